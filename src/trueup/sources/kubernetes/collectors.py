"""Collectors: Kubernetes objects → actual observations, as pure functions.

Used by the snapshot reader (:mod:`trueup.sources.kubernetes.snapshot`) and by
the live reader alike: each collector takes one raw object (its payload shape is
a TypedDict below), the scope (the cluster) and the time it was seen, and
returns an :class:`Observation` or None. They follow the conventions of
Backstage's own plugins (SPEC 4.2):

- workloads (Deployments, StatefulSets, DaemonSets, CronJobs) link to the
  Component named by their label ``backstage.io/kubernetes-id``; unlabelled
  workloads are not collected. Status: ``replicas`` (``ready/desired``) and
  ``images`` (the containers' images, comma-joined).
- Argo CD Applications link by ``argocd/app-name`` (and ``argocd/app-selector``
  over their labels, and their ``backstage.io/kubernetes-id`` label). Status:
  ``argocd-sync``, ``argocd-health``, ``argocd-revision``, ``argocd-operation``
  and ``argocd-source``, passed through verbatim; a missing value is ``""``
  (the assembler shows it as Unknown; nothing here invents Healthy or Synced).

Payloads come from untrusted exports, so every read checks the type it gets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict, cast
from urllib.parse import urlsplit

from trueup.model.observation import Nature, Observation, Provenance
from trueup.model.ref import EntityRef

KUBERNETES_ID = "backstage.io/kubernetes-id"
ARGOCD_APP_NAME = "argocd/app-name"
ARGOCD_APP_SELECTOR = "argocd/app-selector"
IN_CLUSTER_SERVER = "kubernetes.default.svc"


# --- raw payloads ---------------------------------------------------------------


class ObjectMeta(TypedDict, total=False):
    name: str
    namespace: str
    labels: dict[str, str]
    annotations: dict[str, str]
    resourceVersion: str


class Container(TypedDict, total=False):
    name: str
    image: str


class PodSpec(TypedDict, total=False):
    containers: list[Container]


class PodTemplate(TypedDict, total=False):
    spec: PodSpec


class JobSpec(TypedDict, total=False):
    template: PodTemplate


class JobTemplate(TypedDict, total=False):
    spec: JobSpec


class WorkloadSpec(TypedDict, total=False):
    replicas: int
    template: PodTemplate
    jobTemplate: JobTemplate  # CronJob


class WorkloadStatus(TypedDict, total=False):
    readyReplicas: int  # Deployment, StatefulSet
    numberReady: int  # DaemonSet
    desiredNumberScheduled: int  # DaemonSet


class Workload(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: WorkloadSpec
    status: WorkloadStatus


class ApplicationSource(TypedDict, total=False):
    repoURL: str
    path: str
    chart: str
    targetRevision: str


class ApplicationDestination(TypedDict, total=False):
    server: str
    name: str
    namespace: str


class ApplicationSpec(TypedDict, total=False):
    project: str
    source: ApplicationSource
    sources: list[ApplicationSource]
    destination: ApplicationDestination


class SyncStatus(TypedDict, total=False):
    status: str
    revision: str
    revisions: list[str]


class HealthStatus(TypedDict, total=False):
    status: str


class OperationState(TypedDict, total=False):
    phase: str


class ApplicationStatus(TypedDict, total=False):
    sync: SyncStatus
    health: HealthStatus
    operationState: OperationState


class Application(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: ApplicationSpec
    status: ApplicationStatus


class KubernetesObject(TypedDict, total=False):
    """Any object: only what is needed to tell which collector takes it."""

    apiVersion: str
    kind: str
    metadata: ObjectMeta


# --- reading untrusted values ------------------------------------------------------


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _map(value: object) -> Mapping[str, object]:
    return cast(Mapping[str, object], value) if isinstance(value, Mapping) else {}


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _count(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _labels(metadata: Mapping[str, object]) -> dict[str, str]:
    return {
        key: value
        for key, value in _map(metadata.get("labels")).items()
        if isinstance(key, str) and isinstance(value, str)
    }


def locator(scope: str, obj: KubernetesObject) -> str:
    """``cluster/namespace/Kind/name@resourceVersion`` (no ``@…`` when there is none)."""
    metadata = _map(obj.get("metadata"))
    version = _text(metadata.get("resourceVersion"))
    head = f"{scope}/{_text(metadata.get('namespace'))}/{_text(obj.get('kind'))}"
    return f"{head}/{_text(metadata.get('name'))}" + (f"@{version}" if version else "")


def _provenance(source: str, scope: str, obj: KubernetesObject, at: datetime) -> Provenance:
    return Provenance(source=source, scope=scope, locator=locator(scope, obj), observed_at=at)


# --- workloads -----------------------------------------------------------------------


def _images(template: object) -> str:
    containers = _list(_map(_map(template).get("spec")).get("containers"))
    return ",".join(image for c in containers if (image := _text(_map(c).get("image"))))


def collect_workload(
    obj: Workload, *, source: str, scope: str, observed_at: datetime
) -> Observation | None:
    """A labelled Deployment, StatefulSet, DaemonSet or CronJob; None when unlabelled."""
    metadata = _map(obj.get("metadata"))
    labels = _labels(metadata)
    kubernetes_id = labels.get(KUBERNETES_ID, "")
    if not kubernetes_id:
        return None
    kind = _text(obj.get("kind"))
    spec = _map(obj.get("spec"))
    status = _map(obj.get("status"))
    values: dict[str, str] = {}
    if kind == "CronJob":
        job_spec = _map(_map(spec.get("jobTemplate")).get("spec"))
        values["images"] = _images(job_spec.get("template"))
    else:
        if kind == "DaemonSet":
            ready = _count(status.get("numberReady"), 0)
            desired = _count(status.get("desiredNumberScheduled"), 0)
        else:
            ready = _count(status.get("readyReplicas"), 0)
            desired = _count(spec.get("replicas"), 1)
        values["replicas"] = f"{ready}/{desired}"
        values["images"] = _images(spec.get("template"))
    return Observation(
        ref=EntityRef.of("component", None, kubernetes_id),
        nature=Nature.ACTUAL,
        provenance=_provenance(source, scope, obj, observed_at),
        fields={f"metadata.annotations.{KUBERNETES_ID}": kubernetes_id},
        place=f"{scope}/{_text(metadata.get('namespace'))}",
        status=values,
        links=((KUBERNETES_ID, kubernetes_id),),
        labels=labels,
    )


# --- Argo CD ---------------------------------------------------------------------


def _destination_cluster(destination: Mapping[str, object]) -> str:
    name = _text(destination.get("name"))
    if name:
        return name
    server = _text(destination.get("server"))
    try:
        host = (urlsplit(server).hostname or server) if server else ""
    except ValueError:  # not a URL: show it as written
        host = server
    return "in-cluster" if not host or host == IN_CLUSTER_SERVER else host


def _source_text(source: object) -> str:
    fields = _map(source)
    repo = _text(fields.get("repoURL")).rstrip("/")
    path = _text(fields.get("path")) or _text(fields.get("chart"))
    return f"{repo}/{path.strip('/')}" if repo and path.strip("/") else repo


def collect_application(
    obj: Application, *, source: str, scope: str, observed_at: datetime
) -> Observation | None:
    """An Argo CD Application; None when it has no name."""
    metadata = _map(obj.get("metadata"))
    name = _text(metadata.get("name"))
    if not name:
        return None
    labels = _labels(metadata)
    kubernetes_id = labels.get(KUBERNETES_ID, "")
    spec = _map(obj.get("spec"))
    status = _map(obj.get("status"))
    sync = _map(status.get("sync"))
    destination = _map(spec.get("destination"))
    sources = [spec["source"]] if "source" in spec else _list(spec.get("sources"))
    revision = _text(sync.get("revision")) or ",".join(
        r for r in _list(sync.get("revisions")) if isinstance(r, str)
    )
    place = f"{scope}/{_destination_cluster(destination)}"
    namespace = _text(destination.get("namespace"))
    links = [(ARGOCD_APP_NAME, name)]
    if kubernetes_id:
        links.append((KUBERNETES_ID, kubernetes_id))
    return Observation(
        ref=EntityRef.of("component", None, kubernetes_id or name),
        nature=Nature.ACTUAL,
        provenance=_provenance(source, scope, obj, observed_at),
        fields={f"metadata.annotations.{ARGOCD_APP_NAME}": name},
        place=f"{place}/{namespace}" if namespace else place,
        status={
            "argocd-sync": _text(sync.get("status")),
            "argocd-health": _text(_map(status.get("health")).get("status")),
            "argocd-revision": revision,
            "argocd-operation": _text(_map(status.get("operationState")).get("phase")),
            "argocd-source": ",".join(t for s in sources if (t := _source_text(s))),
        },
        links=tuple(links),
        labels=labels,
        selectors=(ARGOCD_APP_SELECTOR,),
    )


# --- dispatch ----------------------------------------------------------------------

COLLECTED_KINDS: Mapping[tuple[str, str], str] = {
    ("apps/v1", "Deployment"): "workloads",
    ("apps/v1", "StatefulSet"): "workloads",
    ("apps/v1", "DaemonSet"): "workloads",
    ("batch/v1", "CronJob"): "workloads",
    ("argoproj.io/v1alpha1", "Application"): "argocd",
}


@dataclass(frozen=True, slots=True)
class Collected:
    """What a set of objects gave: observations, and counts of what was skipped and why."""

    observations: tuple[Observation, ...]
    skipped: Mapping[str, int]


def collect(
    objects: Iterable[object],
    *,
    source: str,
    scope: str,
    observed_at: datetime,
    groups: Iterable[str] = ("workloads", "argocd"),
) -> Collected:
    """Run the collector of each object's kind (in the enabled ``groups``) over every object."""
    enabled = set(groups)
    observations: list[Observation] = []
    skipped: Counter[str] = Counter()
    for item in objects:
        raw = _map(item)
        key = (_text(raw.get("apiVersion")), _text(raw.get("kind")))
        group = COLLECTED_KINDS.get(key)
        if group is None or group not in enabled:
            skipped[f"{key[0]}/{key[1]}" if group is None else f"{group} not collected"] += 1
            continue
        if group == "argocd":
            observation = collect_application(
                cast(Application, raw), source=source, scope=scope, observed_at=observed_at
            )
        else:
            observation = collect_workload(
                cast(Workload, raw), source=source, scope=scope, observed_at=observed_at
            )
        if observation is None:
            reason = "without a name" if group == "argocd" else f"without {KUBERNETES_ID}"
            skipped[f"{key[1]} {reason}"] += 1
        else:
            observations.append(observation)
    return Collected(tuple(observations), dict(skipped))
