"""Realistic ``kubectl get -o json`` exports: Deployments, Argo CD Applications, Crossplane claims.

Builds the raw objects a cluster would return (metadata with uid,
resourceVersion and generation; Deployment spec and status; Application source,
destination, sync, health and operation state) and writes them as a ``List``
file, the input of a ``kubernetes`` source with ``snapshot:``. Everything is
derived from the arguments, so the same world gives the same bytes. Called by
:mod:`trueup.world.demo` and :mod:`trueup.world.scaled`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

KUBERNETES_ID = "backstage.io/kubernetes-id"
IN_CLUSTER = "https://kubernetes.default.svc"
_UID_NAMESPACE = uuid.UUID("6f1c1f4e-4b8e-4c38-9a4e-ac3e00000000")

# Argo CD health and sync values used by the generators.
HEALTHY, DEGRADED, PROGRESSING = "Healthy", "Degraded", "Progressing"
SYNCED, OUT_OF_SYNC = "Synced", "OutOfSync"

RawObject = dict[str, object]


@dataclass(frozen=True, slots=True)
class Workload:
    """One application deployed to one cluster, as both a Deployment and an Application."""

    name: str
    cluster: str
    namespace: str
    team: str
    part_of: str
    repo_url: str
    version: str  # image tag running in the cluster
    replicas: int = 2
    ready: int = 2
    sync: str = SYNCED
    health: str = HEALTHY
    serial: int = 1  # a per-world counter that makes resourceVersions distinct
    port: int = 8080
    source_path: str | None = None  # in the repository; default deploy/overlays/<cluster>
    head: str | None = None  # the branch head Argo CD compares with (default: derived)
    deployed: str | None = None  # the revision last synced (default: the head when Synced)


def revision(*parts: str) -> str:
    """A git commit sha (40 hex digits) derived from its inputs."""
    return hashlib.sha1(":".join(parts).encode()).hexdigest()


def uid(*parts: str) -> str:
    return str(uuid.uuid5(_UID_NAMESPACE, "/".join(parts)))


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def deployment(workload: Workload, now: datetime) -> RawObject:
    """An ``apps/v1`` Deployment labelled for Backstage's Kubernetes plugin."""
    w = workload
    created = now - timedelta(days=30 + w.serial % 200, minutes=w.serial % 60)
    generation = 3 + w.serial % 17
    labels = {
        "app.kubernetes.io/name": w.name,
        "app.kubernetes.io/part-of": w.part_of,
        "app.kubernetes.io/managed-by": "argocd",
        "app.kubernetes.io/version": w.version,
        KUBERNETES_ID: w.name,
        "acme.io/team": w.team,
    }
    status: RawObject = {
        "observedGeneration": generation,
        "replicas": w.replicas,
        "updatedReplicas": w.replicas,
    }
    available = w.ready >= w.replicas
    if w.ready:
        status["readyReplicas"] = w.ready
        status["availableReplicas"] = w.ready
    if not available:
        status["unavailableReplicas"] = w.replicas - w.ready
    changed = timestamp(now - timedelta(minutes=5 + w.serial % 50))
    status["conditions"] = [
        {
            "type": "Available",
            "status": "True" if available else "False",
            "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
            "message": "Deployment has minimum availability."
            if available
            else "Deployment does not have minimum availability.",
            "lastUpdateTime": changed,
            "lastTransitionTime": changed,
        },
        {
            "type": "Progressing",
            "status": "True" if available else "False",
            "reason": "NewReplicaSetAvailable" if available else "ProgressDeadlineExceeded",
            "message": f'ReplicaSet "{w.name}-{revision(w.name, w.version)[:10]}" '
            + ("has successfully progressed." if available else "has timed out progressing."),
            "lastUpdateTime": changed,
            "lastTransitionTime": changed,
        },
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": w.name,
            "namespace": w.namespace,
            "uid": uid(w.cluster, "deployment", w.namespace, w.name),
            "resourceVersion": str(184_000_000 + w.serial * 97),
            "generation": generation,
            "creationTimestamp": timestamp(created),
            "labels": labels,
            "annotations": {
                "deployment.kubernetes.io/revision": str(generation),
                "argocd.argoproj.io/tracking-id": (
                    f"{w.name}:apps/Deployment:{w.namespace}/{w.name}"
                ),
            },
        },
        "spec": {
            "replicas": w.replicas,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app.kubernetes.io/name": w.name}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": w.name, KUBERNETES_ID: w.name}},
                "spec": {
                    "serviceAccountName": w.name,
                    "containers": [
                        {
                            "name": w.name,
                            "image": f"ghcr.io/acme/{w.name}:{w.version}",
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [{"name": "http", "containerPort": w.port, "protocol": "TCP"}],
                            "resources": {
                                "requests": {"cpu": "250m", "memory": "256Mi"},
                                "limits": {"memory": "512Mi"},
                            },
                            "readinessProbe": {
                                "httpGet": {"path": "/healthz", "port": "http"},
                                "periodSeconds": 10,
                            },
                        }
                    ],
                },
            },
        },
        "status": status,
    }


def application(workload: Workload, now: datetime) -> RawObject:
    """An Argo CD ``Application`` in the cluster's ``argocd`` namespace."""
    w = workload
    source = {
        "repoURL": w.repo_url,
        "path": w.source_path or f"deploy/overlays/{w.cluster}",
        "targetRevision": "main",
    }
    destination = {"server": IN_CLUSTER, "namespace": w.namespace}
    head = w.head or revision(w.repo_url, "main", w.version)
    deployed = w.deployed or (
        head if w.sync == SYNCED else revision(w.repo_url, "main", "previous", w.version)
    )
    reconciled = now - timedelta(minutes=1 + w.serial % 3)
    if w.health == PROGRESSING:  # a sync is still waiting for the rollout
        started = now - timedelta(seconds=90)
        operation: RawObject = {
            "phase": "Running",
            "message": f"waiting for healthy state of apps/Deployment/{w.name}",
            "startedAt": timestamp(started),
        }
    else:
        finished = now - timedelta(hours=2 + w.serial % 40, minutes=w.serial % 60)
        operation = {
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "startedAt": timestamp(finished - timedelta(seconds=12)),
            "finishedAt": timestamp(finished),
        }
    operation["syncResult"] = {"revision": deployed, "source": source}
    sync_policy: RawObject = {"syncOptions": ["CreateNamespace=true"]}
    if w.sync == SYNCED:  # an OutOfSync app is one whose automated sync was turned off
        sync_policy["automated"] = {"prune": True, "selfHeal": True}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": w.name,
            "namespace": "argocd",
            "uid": uid(w.cluster, "application", w.name),
            "resourceVersion": str(184_000_000 + w.serial * 97 + 41),
            "generation": 40 + w.serial % 300,
            "creationTimestamp": timestamp(now - timedelta(days=60 + w.serial % 300)),
            "labels": {KUBERNETES_ID: w.name, "acme.io/team": w.team},
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        },
        "spec": {
            "project": w.part_of,
            "source": source,
            "destination": destination,
            "syncPolicy": sync_policy,
        },
        "status": {
            "sync": {
                "status": w.sync,
                "revision": head,
                "comparedTo": {"source": source, "destination": destination},
            },
            "health": {"status": w.health},
            "operationState": operation,
            "reconciledAt": timestamp(reconciled),
            "sourceType": "Kustomize",
            "summary": {"images": [f"ghcr.io/acme/{w.name}:{w.version}"]},
            "resources": [
                {
                    "group": "apps",
                    "version": "v1",
                    "kind": "Deployment",
                    "namespace": w.namespace,
                    "name": w.name,
                    "status": w.sync,
                    "health": {"status": w.health},
                }
            ],
        },
    }


def composite_definition(group: str, kind: str, claim_kind: str) -> RawObject:
    """A Crossplane ``CompositeResourceDefinition`` (v1) offering a namespaced claim kind."""
    plural, claim_plural = f"x{claim_kind.lower()}s", f"{claim_kind.lower()}s"
    return {
        "apiVersion": "apiextensions.crossplane.io/v1",
        "kind": "CompositeResourceDefinition",
        "metadata": {"name": f"{plural}.{group}", "uid": uid("xrd", group, kind)},
        "spec": {
            "group": group,
            "names": {"kind": kind, "plural": plural},
            "claimNames": {"kind": claim_kind, "plural": claim_plural},
            "versions": [{"name": "v1alpha1", "served": True, "referenceable": True}],
        },
    }


def claim(
    api_version: str,
    kind: str,
    name: str,
    namespace: str,
    *,
    ready: str,
    synced: str,
    now: datetime,
    serial: int,
) -> RawObject:
    """A Crossplane claim labelled for Backstage, with Ready and Synced conditions."""
    generation = 3 + serial % 5

    def condition(kind: str, status: str, reason: str, message: str = "") -> RawObject:
        out: RawObject = {
            "type": kind,
            "status": status,
            "reason": reason,
            "lastTransitionTime": timestamp(now - timedelta(minutes=20 + serial)),
            "observedGeneration": generation,
        }
        if message:
            out["message"] = message
        return out

    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid("claim", namespace, name),
            "resourceVersion": str(185_000_000 + serial * 89),
            "generation": generation,
            "labels": {KUBERNETES_ID: name},
        },
        "spec": {"compositionSelector": {"matchLabels": {"provider": "aws"}}},
        "status": {
            "conditions": [
                condition("Ready", "True", "Available")
                if ready == "True"
                else condition("Ready", "False", "Creating", "the instance is being created"),
                condition("Synced", "True", "ReconcileSuccess")
                if synced == "True"
                else condition(
                    "Synced", "False", "ReconcileError", "cannot apply composed resource"
                ),
            ]
        },
    }


def write_list(
    path: Path, items: Iterable[RawObject], resource_version: str, *, indent: int | None
) -> int:
    """Write a ``kind: List`` as kubectl does; returns the number of items.

    With ``indent=None`` each item is one compact line and the items are
    streamed, so a list of a hundred thousand objects never sits in memory.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": resource_version}}
    if indent is not None:
        materialised = list(items)
        path.write_text(
            json.dumps({**header, "items": materialised}, indent=indent) + "\n", encoding="utf-8"
        )
        return len(materialised)
    count = 0
    compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    with path.open("w", encoding="utf-8") as out:
        out.write(compact(header)[:-1] + ',"items":[')
        for item in items:
            out.write(("\n" if count == 0 else ",\n") + compact(item))
            count += 1
        out.write("\n]}\n")
    return count
