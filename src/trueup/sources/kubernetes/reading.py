"""One cluster's read → one complete Snapshot, with nothing lost on a partial read.

Shared by the live reader (``trueup sync``) and the watcher (``trueup serve``).
:func:`observe_items` turns the listed objects of one resource type into
observations (built-in list items carry no apiVersion/kind, so they are set
from the type). :func:`build_snapshot` makes the scope's snapshot:

- the observations of every type read completely;
- for each type that could not be read (403 *no access*, 404 *not installed*,
  a failed page, rate limits), the type's observations from the previous
  snapshot of the scope, recognised by the Kind in their locator (``Kind.group``
  when the source wants that Kind in two API groups; or by family when the kinds
  are unknown), carried over with their old ``observed_at`` so
  they turn stale, never deleted — plus a ``source-failed`` finding on the scope
  that says which type and why;
- nothing is carried over from a previous snapshot of *another* cluster (the
  context's server or CA changed): a finding says so instead;
- an object whose observation holds a NUL character or a lone surrogate is refused
  with a finding,
  and keeps its last good observation (:mod:`~trueup.sources.kubernetes.refused`):
  from the previous snapshot of the scope, or the watcher's own ``last_good``.

The snapshot's ``version`` is ``rv=<highest list resourceVersion> server=<url> ca=<fp>``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from trueup.model.finding import Code, Finding, Severity, finding
from trueup.model.observation import FailureKind, Nature, Observation, Snapshot
from trueup.sources.kubernetes.collectors import collect_object
from trueup.sources.kubernetes.kubeconfig import ClusterIdentity, identity_changed
from trueup.sources.kubernetes.objects import (
    locator_kind,
    locator_namespace,
    with_locator_kind,
)
from trueup.sources.kubernetes.refused import without_unstorable_keeping
from trueup.sources.kubernetes.resources import CROSSPLANE_FAMILY, ResourceType, TypeFailure

_WORDS = {
    FailureKind.FORBIDDEN: "no access",
    FailureKind.NOT_INSTALLED: "not installed",
    FailureKind.RATE_LIMITED: "rate limited",
}


def with_kind(rtype: ResourceType, item: Mapping[str, object]) -> dict[str, object]:
    """The item with its apiVersion and kind (a real server omits them on built-in lists)."""
    if item.get("kind") == rtype.kind and item.get("apiVersion") == rtype.api_version:
        return dict(item)
    return {**item, "apiVersion": rtype.api_version, "kind": rtype.kind}


def observe_item(
    rtype: ResourceType,
    item: Mapping[str, object],
    *,
    source: str,
    scope: str,
    observed_at: datetime,
) -> Observation | None:
    obj = with_kind(rtype, item)
    seen: Observation | None = None
    if rtype.mapping is not None:
        if not rtype.mapping.applies_to(obj):
            return None
        seen = rtype.mapping.observe(obj, source=source, scope=scope, observed_at=observed_at)
    elif rtype.role is not None:
        seen = collect_object(obj, rtype.role, source=source, scope=scope, observed_at=observed_at)
    if seen is None or not rtype.qualified:
        return seen
    located = with_locator_kind(seen.provenance.locator, rtype.locator_kind)
    return replace(seen, provenance=replace(seen.provenance, locator=located))


def observe_items(
    rtype: ResourceType,
    items: Iterable[Mapping[str, object]],
    *,
    source: str,
    scope: str,
    observed_at: datetime,
) -> list[Observation]:
    found = (
        observe_item(rtype, item, source=source, scope=scope, observed_at=observed_at)
        for item in items
    )
    return [o for o in found if o is not None]


def _family(observation: Observation) -> str | None:
    if any(key.startswith("crossplane-") for key in observation.status):
        return CROSSPLANE_FAMILY
    return None


def _named(failure: TypeFailure) -> set[str]:
    """The locator Kinds of a failed type: ``Kind.group``, and the bare Kind of older reads.

    An observation stored before its Kind was qualified (a second group of the same
    Kind newly wanted) cannot tell its group: it is carried rather than lost.
    """
    return {*failure.kinds, *(k.partition(".")[0] for k in failure.kinds)}


def carried_over(
    previous: Snapshot | None, failures: Sequence[TypeFailure], read_kinds: frozenset[str]
) -> list[Observation]:
    """The previous observations of the types that failed now (not of those read fine)."""
    if previous is None or not failures:
        return []
    kinds = {k for f in failures if f.namespace is None for k in _named(f)}
    # a type read per namespace carries over that namespace only: the others were read
    in_namespace = {
        (k, f.namespace) for f in failures if f.namespace is not None for k in _named(f)
    }
    families = {f.family for f in failures if f.family}
    out = []
    for observation in previous.observations:
        kind = locator_kind(observation)
        if (
            kind in kinds
            or (in_namespace and (kind, locator_namespace(observation)) in in_namespace)
            or (_family(observation) in families and kind not in read_kinds)
        ):
            out.append(observation)
    return out


def failure_finding(source: str, scope: str, failure: TypeFailure) -> Finding:
    """``source-failed`` on the scope; "not installed" is only informational."""
    words = _WORDS.get(failure.kind, "read failed")
    return finding(
        Code.SOURCE_FAILED,
        f"scope:{source}/{scope}",
        f"{failure.resource} in {source}/{scope}: {words} ({failure.message}); "
        "its last known objects are kept",
        severity=Severity.INFO if failure.kind is FailureKind.NOT_INSTALLED else None,
        source=source,
        scope=scope,
        kind=failure.kind.value,
        resource=failure.resource,
    )


def version_of(identity: ClusterIdentity, versions: Iterable[str]) -> str:
    numeric = [int(v) for v in versions if v.isdigit()]
    top = str(max(numeric)) if numeric else "-"
    return f"rv={top} {identity.describe()}"


def build_snapshot(
    *,
    source: str,
    identity: ClusterIdentity,
    read_at: datetime,
    observations: Sequence[Observation],
    read_kinds: frozenset[str],
    failures: Sequence[TypeFailure],
    previous: Snapshot | None,
    versions: Iterable[str],
    carry: Sequence[TypeFailure] | None = None,
    last_good: Iterable[Observation] = (),
) -> Snapshot:
    """The scope's complete snapshot after one read (see the module docstring).

    ``carry`` names the failures whose types are carried over from ``previous``
    (default: all of them; the watcher keeps its own last known objects instead).
    ``last_good`` are observations an object refused (a NUL, a lone surrogate) keeps before
    those of ``previous`` (the watcher's, newer than the snapshot it started from).
    """
    scope = identity.context
    findings = [failure_finding(source, scope, f) for f in failures]
    changed = identity_changed(identity, previous.version) if previous is not None else None
    before = previous if changed is None else None
    carried = carried_over(before, failures if carry is None else carry, read_kinds)

    def candidates() -> Iterable[Observation]:
        return itertools.chain(last_good, before.observations if before is not None else ())

    read, refused = without_unstorable_keeping(
        source, scope, observations, candidates, present=carried
    )
    findings += refused
    if changed is not None:
        findings.append(
            finding(
                Code.SOURCE_FAILED,
                f"scope:{source}/{scope}",
                f"{changed}: nothing of the other cluster is carried over",
                severity=Severity.WARNING,
                source=source,
                scope=scope,
                kind="cluster-changed",
            )
        )
    return Snapshot(
        source=source,
        scope=scope,
        nature=Nature.ACTUAL,
        read_at=read_at,
        observations=(*read, *carried),
        findings=tuple(findings),
        version=version_of(identity, versions),
    )
