"""Kubernetes objects for the tests: workloads, Argo CD, CRDs, XRDs and Crossplane resources."""

from __future__ import annotations

from typing import Any

from trueup.sources.kubernetes.objects import KUBERNETES_ID

Obj = dict[str, Any]


def deployment(
    name: str,
    kid: str | None = None,
    *,
    namespace: str = "shop",
    replicas: int = 2,
    ready: int = 2,
    image: str = "ghcr.io/acme/app:1",
    kind: str = "Deployment",
) -> Obj:
    labels = {"app": name} | ({KUBERNETES_ID: kid} if kid else {})
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "main", "image": image}]}},
        },
        "status": {"readyReplicas": ready},
    }


def service(name: str, kid: str, *, namespace: str = "shop") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": {KUBERNETES_ID: kid}},
        "spec": {"type": "ClusterIP", "ports": [{"port": 80, "protocol": "TCP"}, {"port": 9090}]},
    }


def ingress(name: str, kid: str, *, namespace: str = "shop") -> Obj:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "labels": {KUBERNETES_ID: kid}},
        "spec": {
            "rules": [
                {"host": "shop.example.com", "http": {"paths": [{"path": "/"}, {"path": "/api"}]}}
            ]
        },
    }


def crd(
    group: str,
    kind: str,
    plural: str,
    *,
    scope: str = "Namespaced",
    versions: tuple[str, ...] = ("v1",),
    categories: tuple[str, ...] = (),
) -> Obj:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {
                "kind": kind,
                "plural": plural,
                "singular": kind.lower(),
                "categories": list(categories),
            },
            "versions": [
                {"name": v, "served": True, "storage": i == 0} for i, v in enumerate(versions)
            ],
        },
    }


ARGO_CRD = crd("argoproj.io", "Application", "applications", versions=("v1alpha1",))


def application(name: str, *, status: Obj | None = None, labels: Obj | None = None) -> Obj:
    app: Obj = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "labels": labels or {}},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example.com/deploy.git", "path": f"apps/{name}"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
        },
    }
    if status is not None:
        app["status"] = status
    return app


def healthy_status() -> Obj:
    return {
        "sync": {"status": "Synced", "revision": "abc123"},
        "health": {"status": "Healthy"},
        "operationState": {"phase": "Succeeded"},
        "resources": [{"kind": "Deployment", "name": "x", "health": {"status": "Healthy"}}],
    }


XRD_CRD = crd(
    "apiextensions.crossplane.io",
    "CompositeResourceDefinition",
    "compositeresourcedefinitions",
    scope="Cluster",
    versions=("v1", "v2"),
)


def xrd(
    group: str,
    kind: str,
    plural: str,
    *,
    claim: tuple[str, str] | None = None,
    scope: str | None = None,
    api: str = "v2",
) -> Obj:
    spec: Obj = {
        "group": group,
        "names": {"kind": kind, "plural": plural},
        "versions": [{"name": "v1alpha1", "served": True, "referenceable": True}],
    }
    if claim:
        spec["claimNames"] = {"kind": claim[0], "plural": claim[1]}
    if scope:
        spec["scope"] = scope
    return {
        "apiVersion": f"apiextensions.crossplane.io/{api}",
        "kind": "CompositeResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": spec,
    }


def conditions(*pairs: tuple[str, str], observed: int | None = None) -> list[Obj]:
    out = []
    for kind, status in pairs:
        condition: Obj = {"type": kind, "status": status, "reason": "Test"}
        if observed is not None:
            condition["observedGeneration"] = observed
        out.append(condition)
    return out


def crossplane_object(
    api_version: str,
    kind: str,
    name: str,
    *,
    namespace: str | None = None,
    labels: Obj | None = None,
    spec: Obj | None = None,
    conds: list[Obj] | None = None,
    generation: int | None = None,
) -> Obj:
    metadata: Obj = {"name": name, "labels": labels or {}}
    if namespace:
        metadata["namespace"] = namespace
    obj: Obj = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": metadata,
        "spec": spec or {},
        "status": {"conditions": conds or []},
    }
    if generation is not None:
        obj["metadata"]["generation"] = generation
    return obj


def crds_for_xrd(definition: Obj) -> list[Obj]:
    """The CRDs Crossplane creates for an XRD (its composite kind, and its claim kind)."""
    spec = definition["spec"]
    version = spec["versions"][0]["name"]
    scope = spec.get("scope") or (
        "LegacyCluster" if definition["apiVersion"].endswith("/v1") else "Namespaced"
    )
    names = spec["names"]
    out = [
        crd(
            spec["group"],
            names["kind"],
            names["plural"],
            scope="Namespaced" if scope == "Namespaced" else "Cluster",
            versions=(version,),
            categories=("composite",),
        )
    ]
    if "claimNames" in spec:
        claim = spec["claimNames"]
        out.append(
            crd(
                spec["group"],
                claim["kind"],
                claim["plural"],
                versions=(version,),
                categories=("claim",),
            )
        )
    return out


NETWORK_XRD = xrd("net.example.org", "XNetwork", "xnetworks", scope="Namespaced")


def network() -> Obj:
    """An ``XNetwork`` for ``payments`` (``shop/payments-net``), ready and synced."""
    return crossplane_object(
        "net.example.org/v1alpha1",
        "XNetwork",
        "payments-net",
        namespace="shop",
        labels={KUBERNETES_ID: "payments"},
        conds=conditions(("Ready", "True"), ("Synced", "True")),
    )


def settings_map() -> Obj:
    """A ConfigMap ``shop/payments-settings`` with data a mapping can read: tier, region."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "payments-settings", "namespace": "shop"},
        "data": {"tier": "gold", "region": "eu-west-1"},
    }
