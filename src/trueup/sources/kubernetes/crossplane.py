"""Crossplane: which kinds are claims, composites and managed resources, and what they show.

Called by the live reader's discovery (:mod:`~trueup.sources.kubernetes.resources`)
and by :func:`~trueup.sources.kubernetes.collectors.collect` in snapshot mode.
Kinds are found through the CompositeResourceDefinitions and their scope, never
by assuming that claims exist (Crossplane v2: claims only exist for
``LegacyCluster`` XRDs; v2 XRs are namespaced by default); managed resources
through the CRDs in the ``managed`` category and the composites' resource refs.

Each claim or composite becomes (or enriches) a ``Resource`` entity,
``resource:<namespace or default>/<name>``; a composite bound to a claim and the
resources composed for a claim enrich the claim's entity, other composed
resources their composite's. A ``backstage.io/kubernetes-id`` label links the
object to the entity carrying that annotation instead. Status keys:

- ``crossplane-ready``, ``crossplane-synced`` (and ``crossplane-uptodate`` for
  managed resources, or when the condition exists): the condition's status
  verbatim (``True``/``False``/``Unknown``/anything else); ``""`` when the
  condition is missing — the assembler shows both as Unknown, never Ready;
- a condition whose ``observedGeneration`` is behind ``metadata.generation``
  describes an older spec: its value is ``""`` (shown Unknown), the raw value
  stays in ``crossplane-ready-raw`` (…``-synced-raw``, ``-uptodate-raw``) and
  ``crossplane-reconciling`` says ``generation N, observed M``;
- ``crossplane-reason``: ``Type=Status Reason: message`` of the conditions that
  are not True (cut to 200 characters), so a reader sees why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypedDict

from trueup.model.observation import Nature, Observation
from trueup.model.ref import EntityRef
from trueup.sources.kubernetes.objects import (
    KUBERNETES_ID,
    ObjectMeta,
    as_count,
    as_list,
    as_map,
    as_text,
    labels_of,
    provenance_of,
)

XRD_GROUP = "apiextensions.crossplane.io"
XRD_KIND = "CompositeResourceDefinition"
CRD_KIND = "CustomResourceDefinition"
MANAGED_CATEGORY = "managed"
CLAIM_NAME = "crossplane.io/claim-name"
CLAIM_NAMESPACE = "crossplane.io/claim-namespace"
COMPOSITE = "crossplane.io/composite"
CONDITIONS = (("Ready", "ready"), ("Synced", "synced"), ("UpToDate", "uptodate"))


class CrossplaneRole(StrEnum):
    CLAIM = "claim"
    COMPOSITE = "composite"
    MANAGED = "managed"


# --- raw payloads -------------------------------------------------------------------


class XrdNames(TypedDict, total=False):
    kind: str
    plural: str


class XrdVersion(TypedDict, total=False):
    name: str
    served: bool
    referenceable: bool


class XrdSpec(TypedDict, total=False):
    group: str
    names: XrdNames
    claimNames: XrdNames
    versions: list[XrdVersion]
    scope: str  # v2: Namespaced (default) | Cluster | LegacyCluster; v1: absent


class CompositeResourceDefinition(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: XrdSpec


class Condition(TypedDict, total=False):
    type: str
    status: str
    reason: str
    message: str
    observedGeneration: int


class CrossplaneStatus(TypedDict, total=False):
    conditions: list[Condition]


class CrossplaneObject(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: dict[str, object]  # claimRef, resourceRefs, crossplane.resourceRefs…
    status: CrossplaneStatus


@dataclass(frozen=True, slots=True)
class CrossplaneKind:
    """One kind to read: ``group/version`` and kind, its plural, role and scope."""

    group: str
    version: str
    kind: str
    plural: str
    role: CrossplaneRole
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


# --- discovery ------------------------------------------------------------------------


def kinds_of_xrd(xrd: Mapping[str, object]) -> list[CrossplaneKind]:
    """The composite kind (and claim kind) an XRD defines, for every served version.

    The referenceable version comes first: it is the one the live reader lists.
    """
    spec = as_map(xrd.get("spec"))
    group = as_text(spec.get("group"))
    names, claim = as_map(spec.get("names")), as_map(spec.get("claimNames"))
    if not group or not as_text(names.get("kind")) or not as_text(names.get("plural")):
        return []
    is_v1 = as_text(xrd.get("apiVersion")).endswith("/v1")
    scope = as_text(spec.get("scope")) or ("LegacyCluster" if is_v1 else "Namespaced")
    versions = [as_map(v) for v in as_list(spec.get("versions"))]
    served = [v for v in versions if v.get("served", True) is not False and as_text(v.get("name"))]
    served.sort(key=lambda v: v.get("referenceable") is not True)
    out: list[CrossplaneKind] = []
    for version in served:
        name = as_text(version.get("name"))
        out.append(
            CrossplaneKind(
                group,
                name,
                as_text(names.get("kind")),
                as_text(names.get("plural")),
                CrossplaneRole.COMPOSITE,
                scope == "Namespaced",
            )
        )
        if scope == "LegacyCluster" and as_text(claim.get("kind")) and as_text(claim.get("plural")):
            out.append(
                CrossplaneKind(
                    group,
                    name,
                    as_text(claim.get("kind")),
                    as_text(claim.get("plural")),
                    CrossplaneRole.CLAIM,
                    True,
                )
            )
    return out


def managed_kinds_of_crd(crd: Mapping[str, object]) -> list[CrossplaneKind]:
    """A CRD in the ``managed`` category defines managed-resource kinds (one per version)."""
    spec = as_map(crd.get("spec"))
    names = as_map(spec.get("names"))
    categories = [c for c in as_list(names.get("categories")) if isinstance(c, str)]
    if MANAGED_CATEGORY not in categories:
        return []
    return [
        CrossplaneKind(
            as_text(spec.get("group")),
            as_text(as_map(v).get("name")),
            as_text(names.get("kind")),
            as_text(names.get("plural")),
            CrossplaneRole.MANAGED,
            as_text(spec.get("scope")) == "Namespaced",
        )
        for v in as_list(spec.get("versions"))
        if as_map(v).get("served", True) is not False
    ]


def composed_kinds(composites: Iterable[Mapping[str, object]]) -> set[tuple[str, str]]:
    """(apiVersion, kind) of every resource the composites say they composed."""
    found: set[tuple[str, str]] = set()
    for obj in composites:
        spec = as_map(obj.get("spec"))
        refs = as_list(spec.get("resourceRefs")) or as_list(
            as_map(spec.get("crossplane")).get("resourceRefs")
        )
        for ref in refs:
            api_version, kind = (
                as_text(as_map(ref).get("apiVersion")),
                as_text(as_map(ref).get("kind")),
            )
            if api_version and kind:
                found.add((api_version, kind))
    return found


# --- the collector ----------------------------------------------------------------------


def _conditions(obj: Mapping[str, object]) -> dict[str, Mapping[str, object]]:
    found: dict[str, Mapping[str, object]] = {}
    for item in as_list(as_map(obj.get("status")).get("conditions")):
        condition = as_map(item)
        kind = as_text(condition.get("type"))
        if kind and kind not in found:
            found[kind] = condition
    return found


def condition_values(obj: Mapping[str, object], role: CrossplaneRole) -> dict[str, str]:
    """The status keys of one object, with the observedGeneration rule applied."""
    generation = as_count(as_map(obj.get("metadata")).get("generation"), 0)
    conditions = _conditions(obj)
    values: dict[str, str] = {}
    behind: list[int] = []
    reasons: list[str] = []
    for kind, key in CONDITIONS:
        condition = conditions.get(kind)
        if condition is None:
            if kind != "UpToDate" or role is CrossplaneRole.MANAGED:
                values[f"crossplane-{key}"] = ""
            continue
        raw = as_text(condition.get("status"))
        observed = as_count(condition.get("observedGeneration"), -1)
        if generation and 0 <= observed < generation:
            values[f"crossplane-{key}"] = ""
            values[f"crossplane-{key}-raw"] = raw
            behind.append(observed)
        else:
            values[f"crossplane-{key}"] = raw
        if raw != "True":
            reason = as_text(condition.get("reason"))
            message = as_text(condition.get("message"))
            text = f"{kind}={raw or '?'}" + (f" {reason}" if reason else "")
            reasons.append(text + (f": {message}" if message else ""))
    if behind:
        values["crossplane-reconciling"] = f"generation {generation}, observed {min(behind)}"
    if reasons:
        values["crossplane-reason"] = "; ".join(reasons)[:200]
    return values


def _owner_ref(obj: Mapping[str, object], role: CrossplaneRole, namespace: str) -> EntityRef:
    """The Resource entity the object is (part of)."""
    metadata = as_map(obj.get("metadata"))
    labels = labels_of(metadata)
    name = as_text(metadata.get("name"))
    claim_ref = as_map(as_map(obj.get("spec")).get("claimRef"))
    claim_name = labels.get(CLAIM_NAME) or as_text(claim_ref.get("name"))
    claim_namespace = labels.get(CLAIM_NAMESPACE) or as_text(claim_ref.get("namespace"))
    if role is not CrossplaneRole.CLAIM and claim_name and claim_namespace:
        return EntityRef.of("resource", claim_namespace, claim_name)
    composite = labels.get(COMPOSITE, "")
    if role is CrossplaneRole.MANAGED and composite:
        return EntityRef.of("resource", namespace or None, composite)
    return EntityRef.of("resource", namespace or None, name)


def collect_crossplane(
    obj: CrossplaneObject,
    role: CrossplaneRole,
    *,
    source: str,
    scope: str,
    observed_at: datetime,
) -> Observation | None:
    """A claim, composite or managed resource; None when it has no name."""
    raw: Mapping[str, object] = as_map(obj)
    metadata = as_map(raw.get("metadata"))
    name = as_text(metadata.get("name"))
    if not name:
        return None
    namespace = as_text(metadata.get("namespace"))
    labels = labels_of(metadata)
    kubernetes_id = labels.get(KUBERNETES_ID, "")
    kind = as_text(raw.get("kind"))
    place = f"{scope}/{namespace}/{kind}/{name}" if namespace else f"{scope}/{kind}/{name}"
    return Observation(
        ref=_owner_ref(raw, role, namespace),
        nature=Nature.ACTUAL,
        provenance=provenance_of(source, scope, obj, observed_at),
        fields={f"metadata.annotations.{KUBERNETES_ID}": kubernetes_id} if kubernetes_id else {},
        place=place,
        status=condition_values(raw, role),
        links=((KUBERNETES_ID, kubernetes_id),) if kubernetes_id else (),
        labels=labels,
    )
