"""Reading raw Kubernetes objects safely: the shared vocabulary of the collectors.

Objects come from untrusted exports and clusters, so every read checks the
type it gets (a label that is a number, a ``status`` that is a list…) and
falls back to an empty value. Used by :mod:`~trueup.sources.kubernetes.collectors`,
:mod:`~trueup.sources.kubernetes.crossplane` and
:mod:`~trueup.sources.kubernetes.mappings`; ``locator`` is the provenance
locator of SPEC 1 (``cluster/namespace/Kind/name@resourceVersion``), which
the live reader also uses to recognise the observations of one resource type.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TypedDict, cast

from trueup.model.observation import Observation, Provenance

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
