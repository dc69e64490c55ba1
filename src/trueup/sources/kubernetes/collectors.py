"""Collectors: Kubernetes objects → actual observations, as pure functions.

Used by the snapshot reader (:mod:`trueup.sources.kubernetes.snapshot`), the
live reader and the watcher alike: each collector takes one raw object (its
payload shape is a TypedDict below), the scope (the cluster) and the time it
was seen, and returns an :class:`Observation` or None. They follow the
conventions of Backstage's own plugins (SPEC 4.2):

- workloads (Deployments, StatefulSets, DaemonSets, CronJobs, and their
  Services and Ingresses) link to the Component named by their label
  ``backstage.io/kubernetes-id`` (or an entity's
  ``backstage.io/kubernetes-label-selector`` over their labels); unlabelled
  ones are not collected. Status: ``replicas`` (``ready/desired``) and
  ``images``; Services ``service-type`` and ``service-ports``; Ingresses
  ``ingress-hosts``.
- Argo CD Applications link by ``argocd/app-name`` (and ``argocd/app-selector``
  over their labels, and their ``backstage.io/kubernetes-id`` label). Status:
  ``argocd-sync``, ``argocd-health``, ``argocd-revision``, ``argocd-operation``,
  ``argocd-source``, ``argocd-deployed-revision``, ``argocd-repo``,
  ``argocd-target-revision`` and
  ``argocd-resource-health``, passed through verbatim; a
  missing value is ``""`` (the assembler shows it as Unknown; nothing here
  invents Healthy or Synced). Argo CD 3 no longer stores per-resource health
  (``resourceHealthSource: appTree``): ``argocd-resource-health`` then reads
  ``not reported``.
- Crossplane claims, composites and managed resources: see
  :mod:`trueup.sources.kubernetes.crossplane`.

Which collector takes an object is its :class:`Role`: the live reader knows it
from the resource type it listed; :func:`collect` (snapshot mode) infers it
from apiVersion/kind, and for Crossplane from the CompositeResourceDefinitions
and managed-resource CRDs found among the objects. Payloads come from untrusted
exports and clusters, so every read checks the type it gets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypedDict, cast
from urllib.parse import urlsplit

from trueup.model.observation import Nature, Observation
from trueup.model.ref import EntityRef
from trueup.sources.kubernetes.crossplane import (
    CRD_KIND,
    XRD_GROUP,
    XRD_KIND,
    CrossplaneObject,
    CrossplaneRole,
    collect_crossplane,
    composed_kinds,
    kinds_of_xrd,
    managed_kinds_of_crd,
)
from trueup.sources.kubernetes.mappings import CompiledMapping
from trueup.sources.kubernetes.objects import (
    KUBERNETES_ID,
    KubernetesObject,
    ObjectMeta,
    as_count,
    as_list,
    as_map,
    as_text,
    labels_of,
    provenance_of,
)

ARGOCD_APP_NAME = "argocd/app-name"
ARGOCD_APP_SELECTOR = "argocd/app-selector"
LABEL_SELECTOR = "backstage.io/kubernetes-label-selector"
NOT_REPORTED = "not reported"
IN_CLUSTER_SERVER = "kubernetes.default.svc"


# --- raw payloads ---------------------------------------------------------------


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


class ResourceStatus(TypedDict, total=False):
    kind: str
    name: str
    health: HealthStatus  # absent in Argo CD 3 unless persisted


class ApplicationStatus(TypedDict, total=False):
    sync: SyncStatus
    health: HealthStatus
    operationState: OperationState
    resources: list[ResourceStatus]
    resourceHealthSource: str  # "appTree": per-resource health is not stored


class Application(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: ApplicationSpec
    status: ApplicationStatus


class ServicePort(TypedDict, total=False):
    port: int
    protocol: str


class ServiceSpec(TypedDict, total=False):
    type: str
    ports: list[ServicePort]


class Service(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: ServiceSpec


class IngressPath(TypedDict, total=False):
    path: str


class IngressHttp(TypedDict, total=False):
    paths: list[IngressPath]


class IngressRule(TypedDict, total=False):
    host: str
    http: IngressHttp


class IngressSpec(TypedDict, total=False):
    rules: list[IngressRule]


class Ingress(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: IngressSpec


# --- workloads -----------------------------------------------------------------------


def _images(template: object) -> str:
    containers = as_list(as_map(as_map(template).get("spec")).get("containers"))
    return ",".join(image for c in containers if (image := as_text(as_map(c).get("image"))))


def collect_workload(
    obj: Workload, *, source: str, scope: str, observed_at: datetime
) -> Observation | None:
    """A labelled Deployment, StatefulSet, DaemonSet or CronJob; None when unlabelled."""
    metadata = as_map(obj.get("metadata"))
    labels = labels_of(metadata)
    kubernetes_id = labels.get(KUBERNETES_ID, "")
    if not kubernetes_id:
        return None
    kind = as_text(obj.get("kind"))
    spec = as_map(obj.get("spec"))
    status = as_map(obj.get("status"))
    values: dict[str, str] = {}
    if kind == "CronJob":
        job_spec = as_map(as_map(spec.get("jobTemplate")).get("spec"))
        values["images"] = _images(job_spec.get("template"))
    else:
        if kind == "DaemonSet":
            ready = as_count(status.get("numberReady"), 0)
            desired = as_count(status.get("desiredNumberScheduled"), 0)
        else:
            ready = as_count(status.get("readyReplicas"), 0)
            desired = as_count(spec.get("replicas"), 1)
        values["replicas"] = f"{ready}/{desired}"
        values["images"] = _images(spec.get("template"))
    return Observation(
        ref=EntityRef.of("component", None, kubernetes_id),
        nature=Nature.ACTUAL,
        provenance=provenance_of(source, scope, obj, observed_at),
        fields={f"metadata.annotations.{KUBERNETES_ID}": kubernetes_id},
        place=f"{scope}/{as_text(metadata.get('namespace'))}",
        status=values,
        links=((KUBERNETES_ID, kubernetes_id),),
        labels=labels,
        selectors=(LABEL_SELECTOR,),
    )


def _labelled(
    obj: KubernetesObject, source: str, scope: str, observed_at: datetime, status: dict[str, str]
) -> Observation | None:
    metadata = as_map(obj.get("metadata"))
    labels = labels_of(metadata)
    kubernetes_id = labels.get(KUBERNETES_ID, "")
    if not kubernetes_id:
        return None
    return Observation(
        ref=EntityRef.of("component", None, kubernetes_id),
        nature=Nature.ACTUAL,
        provenance=provenance_of(source, scope, obj, observed_at),
        fields={f"metadata.annotations.{KUBERNETES_ID}": kubernetes_id},
        place=f"{scope}/{as_text(metadata.get('namespace'))}",
        status=status,
        links=((KUBERNETES_ID, kubernetes_id),),
        labels=labels,
        selectors=(LABEL_SELECTOR,),
    )


def collect_service(
    obj: Service, *, source: str, scope: str, observed_at: datetime
) -> Observation | None:
    """A labelled Service: its type and ports (``80/TCP,443/TCP``); None when unlabelled."""
    spec = as_map(obj.get("spec"))
    ports = []
    for port in as_list(spec.get("ports")):
        number = as_count(as_map(port).get("port"), 0)
        if number:
            ports.append(f"{number}/{as_text(as_map(port).get('protocol')) or 'TCP'}")
    status = {
        "service-type": as_text(spec.get("type")) or "ClusterIP",
        "service-ports": ",".join(ports),
    }
    return _labelled(cast(KubernetesObject, obj), source, scope, observed_at, status)


def collect_ingress(
    obj: Ingress, *, source: str, scope: str, observed_at: datetime
) -> Observation | None:
    """A labelled Ingress: its hosts and paths (``shop.example.com/api``); None when unlabelled."""
    routes: list[str] = []
    for rule in as_list(as_map(obj.get("spec")).get("rules")):
        host = as_text(as_map(rule).get("host")) or "*"
        paths = as_list(as_map(as_map(rule).get("http")).get("paths"))
        for path in paths or [{}]:
            route = f"{host}{as_text(as_map(path).get('path')) or '/'}"
            if route not in routes:
                routes.append(route)
    status = {"ingress-hosts": ",".join(routes)}
    return _labelled(cast(KubernetesObject, obj), source, scope, observed_at, status)


# --- Argo CD ---------------------------------------------------------------------


def _destination_cluster(destination: Mapping[str, object]) -> str:
    name = as_text(destination.get("name"))
    if name:
        return name
    server = as_text(destination.get("server"))
    try:
        host = (urlsplit(server).hostname or server) if server else ""
    except ValueError:  # not a URL: show it as written
        host = server
    return "in-cluster" if not host or host == IN_CLUSTER_SERVER else host


def _source_text(source: object) -> str:
    fields = as_map(source)
    repo = as_text(fields.get("repoURL")).rstrip("/")
    path = as_text(fields.get("path")) or as_text(fields.get("chart"))
    return f"{repo}/{path.strip('/')}" if repo and path.strip("/") else repo


_HEALTH_ORDER = ("Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown")


def resource_health(status: Mapping[str, object]) -> str:
    """The worst per-resource health, or ``not reported`` (Argo CD 3 keeps it out of status)."""
    if as_text(status.get("resourceHealthSource")) == "appTree":
        return NOT_REPORTED
    healths = [
        as_text(as_map(as_map(r).get("health")).get("status"))
        for r in as_list(status.get("resources"))
        if "health" in as_map(r)
    ]
    if not healths:
        return NOT_REPORTED
    known = [h if h in _HEALTH_ORDER else "Unknown" for h in healths]
    return max(known, key=_HEALTH_ORDER.index)


def collect_application(
    obj: Application, *, source: str, scope: str, observed_at: datetime
) -> Observation | None:
    """An Argo CD Application; None when it has no name."""
    metadata = as_map(obj.get("metadata"))
    name = as_text(metadata.get("name"))
    if not name:
        return None
    labels = labels_of(metadata)
    kubernetes_id = labels.get(KUBERNETES_ID, "")
    spec = as_map(obj.get("spec"))
    status = as_map(obj.get("status"))
    sync = as_map(status.get("sync"))
    destination = as_map(spec.get("destination"))
    sources = [spec["source"]] if "source" in spec else as_list(spec.get("sources"))
    revision = as_text(sync.get("revision")) or ",".join(
        r for r in as_list(sync.get("revisions")) if isinstance(r, str)
    )
    place = f"{scope}/{_destination_cluster(destination)}"
    namespace = as_text(destination.get("namespace"))
    links = [(ARGOCD_APP_NAME, name)]
    if kubernetes_id:
        links.append((KUBERNETES_ID, kubernetes_id))
    return Observation(
        ref=EntityRef.of("component", None, kubernetes_id or name),
        nature=Nature.ACTUAL,
        provenance=provenance_of(source, scope, obj, observed_at),
        fields={f"metadata.annotations.{ARGOCD_APP_NAME}": name},
        place=f"{place}/{namespace}" if namespace else place,
        status={
            "argocd-sync": as_text(sync.get("status")),
            "argocd-health": as_text(as_map(status.get("health")).get("status")),
            "argocd-revision": revision,
            "argocd-operation": as_text(as_map(status.get("operationState")).get("phase")),
            "argocd-source": ",".join(t for s in sources if (t := _source_text(s))),
            # Repository and target of a single-source app: what the drift check
            # compares with the head the git source read ("" for multi-source apps).
            # The revision last synced (what runs), next to the one compared with.
            "argocd-deployed-revision": as_text(
                as_map(as_map(status.get("operationState")).get("syncResult")).get("revision")
            ),
            "argocd-repo": as_text(as_map(sources[0]).get("repoURL")) if len(sources) == 1 else "",
            "argocd-target-revision": (
                as_text(as_map(sources[0]).get("targetRevision")) if len(sources) == 1 else ""
            ),
            "argocd-resource-health": resource_health(status),
        },
        links=tuple(links),
        labels=labels,
        selectors=(ARGOCD_APP_SELECTOR,),
    )


# --- dispatch ----------------------------------------------------------------------


class Role(StrEnum):
    """Which collector takes an object."""

    WORKLOAD = "workload"
    SERVICE = "service"
    INGRESS = "ingress"
    APPLICATION = "application"
    CLAIM = "claim"
    COMPOSITE = "composite"
    MANAGED = "managed"


FAMILY: Mapping[Role, str] = {
    Role.WORKLOAD: "workloads",
    Role.SERVICE: "workloads",
    Role.INGRESS: "workloads",
    Role.APPLICATION: "argocd",
    Role.CLAIM: "crossplane",
    Role.COMPOSITE: "crossplane",
    Role.MANAGED: "crossplane",
}
_CROSSPLANE: Mapping[Role, CrossplaneRole] = {
    Role.CLAIM: CrossplaneRole.CLAIM,
    Role.COMPOSITE: CrossplaneRole.COMPOSITE,
    Role.MANAGED: CrossplaneRole.MANAGED,
}

COLLECTED_KINDS: Mapping[tuple[str, str], Role] = {
    ("apps/v1", "Deployment"): Role.WORKLOAD,
    ("apps/v1", "StatefulSet"): Role.WORKLOAD,
    ("apps/v1", "DaemonSet"): Role.WORKLOAD,
    ("batch/v1", "CronJob"): Role.WORKLOAD,
    ("v1", "Service"): Role.SERVICE,
    ("networking.k8s.io/v1", "Ingress"): Role.INGRESS,
    ("argoproj.io/v1alpha1", "Application"): Role.APPLICATION,
}


def collect_object(
    obj: Mapping[str, object], role: Role, *, source: str, scope: str, observed_at: datetime
) -> Observation | None:
    """The observation the role's collector makes of one object (None: not collected)."""
    if role is Role.WORKLOAD:
        return collect_workload(
            cast(Workload, obj), source=source, scope=scope, observed_at=observed_at
        )
    if role is Role.SERVICE:
        return collect_service(
            cast(Service, obj), source=source, scope=scope, observed_at=observed_at
        )
    if role is Role.INGRESS:
        return collect_ingress(
            cast(Ingress, obj), source=source, scope=scope, observed_at=observed_at
        )
    if role is Role.APPLICATION:
        return collect_application(
            cast(Application, obj), source=source, scope=scope, observed_at=observed_at
        )
    return collect_crossplane(
        cast(CrossplaneObject, obj),
        _CROSSPLANE[role],
        source=source,
        scope=scope,
        observed_at=observed_at,
    )


def skip_reason(role: Role) -> str:
    return f"without {KUBERNETES_ID}" if FAMILY[role] == "workloads" else "without a name"


def crossplane_roles(objects: Sequence[Mapping[str, object]]) -> dict[tuple[str, str], Role]:
    """(apiVersion, kind) → role of the Crossplane kinds the XRDs and CRDs in ``objects`` define."""
    roles: dict[tuple[str, str], Role] = {}
    for obj in objects:
        api_version, kind = as_text(obj.get("apiVersion")), as_text(obj.get("kind"))
        if kind == XRD_KIND and api_version.startswith(f"{XRD_GROUP}/"):
            found = kinds_of_xrd(obj)
        elif kind == CRD_KIND:
            found = managed_kinds_of_crd(obj)
        else:
            continue
        for each in found:
            roles[(each.api_version, each.kind)] = _ROLE_OF[each.role]
    composites = [
        obj
        for obj in objects
        if roles.get((as_text(obj.get("apiVersion")), as_text(obj.get("kind")))) is Role.COMPOSITE
    ]
    for key in composed_kinds(composites):
        roles.setdefault(key, Role.MANAGED)
    return roles


_ROLE_OF = {value: key for key, value in _CROSSPLANE.items()}


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
    groups: Iterable[str] = ("workloads", "argocd", "crossplane"),
    mappings: Sequence[CompiledMapping] = (),
) -> Collected:
    """Run the collector of each object's kind (in the enabled ``groups``), and the mappings."""
    items = [as_map(item) for item in objects]
    return collect_items(
        items,
        roles_of(items, groups),
        source=source,
        scope=scope,
        observed_at=observed_at,
        groups=groups,
        mappings=mappings,
    )


def defines_roles(obj: Mapping[str, object]) -> bool:
    """Whether ``roles_of`` must see this object: anything but the built-in collected kinds."""
    return (as_text(obj.get("apiVersion")), as_text(obj.get("kind"))) not in COLLECTED_KINDS


def roles_of(
    definitions: Sequence[Mapping[str, object]], groups: Iterable[str]
) -> dict[tuple[str, str], Role]:
    """(apiVersion, kind) → role, Crossplane's from its definitions among ``definitions``."""
    roles = dict(COLLECTED_KINDS)
    if "crossplane" in set(groups):
        roles.update(crossplane_roles(definitions))
    return roles


def collect_items(
    items: Iterable[Mapping[str, object]],
    roles: Mapping[tuple[str, str], Role],
    *,
    source: str,
    scope: str,
    observed_at: datetime,
    groups: Iterable[str] = ("workloads", "argocd", "crossplane"),
    mappings: Sequence[CompiledMapping] = (),
) -> Collected:
    """:func:`collect` once the roles are known: one pass, so ``items`` may be a stream."""
    enabled = set(groups)
    observations: list[Observation] = []
    skipped: Counter[str] = Counter()
    for raw in items:
        key = (as_text(raw.get("apiVersion")), as_text(raw.get("kind")))
        mapped = False
        for mapping in mappings:
            if mapping.applies_to(raw):
                mapped = True
                seen = mapping.observe(raw, source=source, scope=scope, observed_at=observed_at)
                if seen is None:
                    skipped[f"{key[1]} without a ref from mapping {mapping.name}"] += 1
                else:
                    observations.append(seen)
        role = roles.get(key)
        if role is None or FAMILY[role] not in enabled:
            if not mapped:
                skipped[
                    f"{key[0]}/{key[1]}" if role is None else f"{FAMILY[role]} not collected"
                ] += 1
            continue
        observation = collect_object(raw, role, source=source, scope=scope, observed_at=observed_at)
        if observation is None:
            skipped[f"{key[1]} {skip_reason(role)}"] += 1
        else:
            observations.append(observation)
    return Collected(tuple(observations), dict(skipped))
