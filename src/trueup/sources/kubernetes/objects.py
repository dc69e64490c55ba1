"""Reading raw Kubernetes objects safely: the shared vocabulary of the collectors.

Objects come from untrusted exports and clusters, so every read checks the
type it gets (a label that is a number, a ``status`` that is a list…) and
falls back to an empty value. Used by :mod:`~trueup.sources.kubernetes.collectors`,
:mod:`~trueup.sources.kubernetes.crossplane` and
:mod:`~trueup.sources.kubernetes.mappings`; ``locator`` is the provenance
locator of SPEC 1 (``cluster/namespace/Kind/name@resourceVersion``), which
the live reader also uses to recognise the observations of one resource type.
:func:`without_nul` refuses the observations that hold a NUL character, each
with a finding: the snapshot reader and :func:`~trueup.sources.kubernetes.reading.build_snapshot`
(live reads and watches) pass theirs through it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TypedDict, cast

from trueup.model.finding import Code, Finding, finding
from trueup.model.observation import NUL_CHARACTER, Observation, Provenance, nul_field, show_nul

KUBERNETES_ID = "backstage.io/kubernetes-id"


class ObjectMeta(TypedDict, total=False):
    name: str
    namespace: str
    labels: dict[str, str]
    annotations: dict[str, str]
    resourceVersion: str
    generation: int


class KubernetesObject(TypedDict, total=False):
    """Any object: only what is needed to tell which collector takes it."""

    apiVersion: str
    kind: str
    metadata: ObjectMeta


def as_text(value: object) -> str:
    return value if isinstance(value, str) else ""


def as_map(value: object) -> Mapping[str, object]:
    if type(value) is dict:  # what JSON gives: no ABC check (called per field of every object)
        return value
    return cast(Mapping[str, object], value) if isinstance(value, Mapping) else {}


def as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def as_count(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def labels_of(metadata: Mapping[str, object]) -> dict[str, str]:
    return {
        key: value
        for key, value in as_map(metadata.get("labels")).items()
        if isinstance(key, str) and isinstance(value, str)
    }


def locator(scope: str, obj: KubernetesObject) -> str:
    """``cluster/namespace/Kind/name@resourceVersion`` (no ``@…`` when there is none)."""
    metadata = as_map(obj.get("metadata"))
    version = as_text(metadata.get("resourceVersion"))
    head = f"{scope}/{as_text(metadata.get('namespace'))}/{as_text(obj.get('kind'))}"
    return f"{head}/{as_text(metadata.get('name'))}" + (f"@{version}" if version else "")


def provenance_of(source: str, scope: str, obj: KubernetesObject, at: datetime) -> Provenance:
    return Provenance(source=source, scope=scope, locator=locator(scope, obj), observed_at=at)


def with_locator_kind(locator_text: str, kind: str) -> str:
    """The locator with another Kind segment (``Kind.group`` when the Kind is ambiguous)."""
    parts = locator_text.rsplit("/", 3)
    if len(parts) != 4:
        return locator_text
    parts[2] = kind
    return "/".join(parts)


def locator_kind(observation: Observation) -> str:
    """The Kind segment of an observation's locator (``cluster/ns/Kind/name@rv``)."""
    # From the right: a context name may hold slashes (EKS: ``arn:…:cluster/name``).
    parts = observation.provenance.locator.rsplit("/", 3)
    return parts[2] if len(parts) == 4 else ""


def locator_namespace(observation: Observation) -> str:
    """The namespace segment of an observation's locator (empty when cluster-scoped)."""
    parts = observation.provenance.locator.rsplit("/", 3)
    return parts[1] if len(parts) == 4 else ""


def without_nul(
    source: str, scope: str, observations: Iterable[Observation]
) -> tuple[list[Observation], list[Finding]]:
    """The observations without those holding a NUL character, and a finding for each of those.

    A NUL (an annotation ``"a\\u0000b"`` in an export, a label, a name) cannot be
    stored on PostgreSQL: the object is refused as an object no collector can
    take is skipped, and the finding names it, the field and the rule. The
    check runs on what would be stored, so a NUL elsewhere in an object is no
    reason to refuse it.
    """
    kept: list[Observation] = []
    refused: list[Finding] = []
    for observation in observations:
        where = nul_field(observation)
        if where is None:
            kept.append(observation)
            continue
        named = show_nul(observation.provenance.locator)
        refused.append(
            finding(
                Code.INVALID_ENTITY,
                f"scope:{source}/{scope}",
                f"{named}: {where} holds a NUL character (U+0000), which cannot be stored; "
                f"the object is not read [{NUL_CHARACTER}]",
                source=source,
                scope=scope,
                object=named,
                field=where,
                rule=NUL_CHARACTER,
            )
        )
    return kept, refused
