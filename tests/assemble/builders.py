"""Small builders for observations and snapshots used by the assembly tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from trueup.assemble.assembler import AssemblyPolicy
from trueup.assemble.precedence import Precedence
from trueup.checks.completeness import CompletenessCheck, CompletenessConfig
from trueup.checks.drift import DriftCheck, StaleCheck
from trueup.checks.relations import RelationsCheck
from trueup.model.fields import flatten
from trueup.model.observation import Nature, Observation, Provenance, Snapshot
from trueup.model.ref import EntityRef

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FEED = "https://trueup.example.com/backstage/entities.yaml"


def component(name: str, **spec: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name, "description": f"The {name} service"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a", "system": "shop"},
    }
    doc["spec"].update(spec)
    return doc


def group(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Group",
        "metadata": {"name": name},
        "spec": {"type": "team", "children": []},
    }


def system(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "System",
        "metadata": {"name": name, "description": "A system"},
        "spec": {"owner": "team-a"},
    }


def intent(
    doc: dict[str, Any], *, source: str = "catalog", scope: str = "catalog", path: str = "a.yaml"
) -> Observation:
    meta = doc["metadata"]
    ref = EntityRef.of(doc["kind"], meta.get("namespace"), meta["name"])
    return Observation(
        ref=ref,
        nature=Nature.INTENT,
        provenance=Provenance(source, scope, f"{scope}@abc:{path}#0", NOW - timedelta(minutes=1)),
        fields=flatten(doc),
    )


def deployment(
    kid: str,
    *,
    source: str = "clusters",
    scope: str = "prod-eu",
    namespace: str = "shop",
    replicas: str = "2/2",
    age: timedelta = timedelta(minutes=1),
) -> Observation:
    return Observation(
        ref=EntityRef.of("component", None, kid),
        nature=Nature.ACTUAL,
        provenance=Provenance(source, scope, f"{scope}/{namespace}/Deployment/{kid}@7", NOW - age),
        fields={"metadata.annotations.backstage.io/kubernetes-id": kid},
        place=f"{scope}/{namespace}",
        status={"replicas": replicas},
        links=(("backstage.io/kubernetes-id", kid),),
    )


def argo_app(
    name: str,
    *,
    health: str = "Healthy",
    sync: str = "Synced",
    source: str = "clusters",
    scope: str = "prod-eu",
    label: str | None = None,
    labels: dict[str, str] | None = None,
    age: timedelta = timedelta(minutes=1),
) -> Observation:
    links = [("argocd/app-name", name)]
    if label:
        links.append(("backstage.io/kubernetes-id", label))
    return Observation(
        ref=EntityRef.of("component", None, label or name),
        nature=Nature.ACTUAL,
        provenance=Provenance(source, scope, f"{scope}/argocd/Application/{name}@9", NOW - age),
        fields={"metadata.annotations.argocd/app-name": name},
        place=f"{scope}/in-cluster/{name}",
        status={"argocd-sync": sync, "argocd-health": health, "argocd-revision": "abc123"},
        links=tuple(links),
        labels=labels or {},
        selectors=("argocd/app-selector",),
    )


def snapshot(
    source: str, scope: str, *observations: Observation, nature: Nature | None = None
) -> Snapshot:
    kind = nature or (observations[0].nature if observations else Nature.INTENT)
    return Snapshot(source, scope, kind, NOW, tuple(observations))


def catalog_snapshot(*docs: dict[str, Any]) -> Snapshot:
    """The ``catalog`` source's read: one intent per document, from ``0.yaml``, ``1.yaml``, …"""
    return snapshot(
        "catalog", "catalog", *(intent(d, path=f"{i}.yaml") for i, d in enumerate(docs))
    )


def policy(
    precedence: dict[str, list[str]] | None = None,
    *,
    sources: tuple[str, ...] = ("catalog", "other", "clusters"),
    max_age: timedelta | None = timedelta(minutes=15),
    public_url: str | None = "https://trueup.example.com",
) -> AssemblyPolicy:
    return AssemblyPolicy(
        precedence=Precedence(precedence or {}, list(sources)),
        max_age={"clusters": max_age, "catalog": None, "other": None},
        feed_url=FEED,
        public_url=public_url,
        checks=(
            RelationsCheck(),
            CompletenessCheck(
                CompletenessConfig(
                    required_fields={
                        "Component": ["metadata.description", "spec.lifecycle", "spec.system"]
                    }
                )
            ),
            DriftCheck(),
            StaleCheck(),
        ),
    )
