"""Small builders of the values the store keeps: observations, snapshots, assembled entities.

The store tests build their inputs directly with these instead of running the
sources and the assembler.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from trueup.model.assembled import AssembledEntity, AssemblyResult, Candidate, FieldOrigin
from trueup.model.finding import Finding, Severity
from trueup.model.observation import Nature, Observation, Provenance, Snapshot
from trueup.model.ref import EntityRef

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """T0 plus some minutes."""
    return T0 + timedelta(minutes=minutes)


def ref(name: str, kind: str = "component", namespace: str = "default") -> EntityRef:
    return EntityRef.of(kind, namespace, name)


def observation(
    name: str,
    *,
    source: str = "catalog",
    scope: str = "main",
    when: datetime = T0,
    nature: Nature = Nature.INTENT,
    fields: Mapping[str, Any] | None = None,
) -> Observation:
    return Observation(
        ref=ref(name),
        nature=nature,
        provenance=Provenance(source, scope, f"repo@abc:{name}.yaml#0", when),
        fields=dict(fields) if fields is not None else {"spec.owner": "team-a"},
        place="prod/ns" if nature is Nature.ACTUAL else None,
        status={"argocd-health": "Healthy"} if nature is Nature.ACTUAL else {},
        links=(("backstage.io/kubernetes-id", name),),
        labels={"app": name},
        selectors=("backstage.io/kubernetes-label-selector",),
    )


def snapshot(
    names: Iterable[str],
    *,
    source: str = "catalog",
    scope: str = "main",
    when: datetime = T0,
    version: str = "abc",
    owner: str = "team-a",
    findings: tuple[Finding, ...] = (),
) -> Snapshot:
    return Snapshot(
        source=source,
        scope=scope,
        nature=Nature.INTENT,
        read_at=when,
        observations=tuple(
            observation(n, source=source, scope=scope, when=when, fields={"spec.owner": owner})
            for n in names
        ),
        findings=findings,
        version=version,
    )


def finding(subject: str, code: str = "missing-field", message: str = "no description") -> Finding:
    return Finding(code, Severity.WARNING, subject, message, {"field": "description"})


def assembled(
    name: str,
    *,
    owner: str = "team-a",
    when: datetime = T0,
    findings: tuple[Finding, ...] = (),
    kind: str = "component",
    extra: Mapping[str, Any] | None = None,
) -> AssembledEntity:
    """An assembled entity; ``when`` only changes provenance ages, not the content hash."""
    entity_ref = ref(name, kind)
    provenance = Provenance("catalog", "main", f"repo@abc:{name}.yaml#0", when)
    return AssembledEntity(
        ref=entity_ref,
        entity={
            "apiVersion": "backstage.io/v1alpha1",
            "kind": kind.capitalize(),
            "metadata": {"name": name, "annotations": {"trueup.io/sources": "catalog"}},
            "spec": {"owner": owner, "type": "service", "lifecycle": "production"}
            | dict(extra or {}),
        },
        origins={"spec.owner": FieldOrigin(Candidate(owner, Nature.INTENT, provenance))},
        places=(),
        findings=findings,
        discovered=False,
        emitted=True,
        score=100 - 10 * len(findings),
        observed_at=when,
        sources=("catalog",),
    )


def result(*entities: AssembledEntity, findings: tuple[Finding, ...] = ()) -> AssemblyResult:
    return AssemblyResult({e.ref: e for e in entities}, findings)
