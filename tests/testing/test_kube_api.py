"""The loopback API server as a package: its promises, and the kinds it serves for an export.

The protocol itself is tested through trueup's live source in
``tests/sources/kubernetes``; here: the module says what it is, binds
127.0.0.1 only, and :func:`~trueup.testing.kube_api.served_kinds` serves the
kinds an export uses the way the cluster's CRDs and Crossplane would.
"""

from __future__ import annotations

import inspect
from typing import Any

from trueup.testing import kube_api
from trueup.testing.kube_api import (
    FakeApiServer,
    ResourceInfo,
    guess_plural,
    load_export,
    served_kinds,
)
from trueup.testing.kube_api.cluster_state import BUILTIN_RESOURCES

Obj = dict[str, Any]


def test_the_package_says_what_it_is_and_only_binds_loopback() -> None:
    doc = kube_api.__doc__ or ""
    assert doc.startswith("A test double of the Kubernetes API server")
    assert "not part of trueup" in doc and "127.0.0.1" in doc
    assert "host" not in inspect.signature(FakeApiServer).parameters
    server = FakeApiServer(name="solo", token="t")
    try:
        assert server.address[0] == "127.0.0.1"
        assert server.url.startswith("http://127.0.0.1:")
    finally:
        server.close()


def test_public_api() -> None:
    for name in kube_api.__all__:
        assert hasattr(kube_api, name), name


def test_plurals_are_guessed_as_kubernetes_does() -> None:
    assert guess_plural("Application") == "applications"
    assert guess_plural("Policy") == "policies"
    assert guess_plural("Ingress") == "ingresses"


def xrd(api: str, *, claim: bool, scope: str | None = None) -> Obj:
    spec: Obj = {
        "group": "platform.example.org",
        "names": {"kind": "XDatabase", "plural": "xdatabases"},
        "versions": [{"name": "v1alpha1", "served": True, "referenceable": True}],
    }
    if claim:
        spec["claimNames"] = {"kind": "Database", "plural": "databases"}
    if scope:
        spec["scope"] = scope
    return {
        "apiVersion": f"apiextensions.crossplane.io/{api}",
        "kind": "CompositeResourceDefinition",
        "metadata": {"name": "xdatabases.platform.example.org"},
        "spec": spec,
    }


def by_kind(kinds: list[ResourceInfo]) -> dict[str, ResourceInfo]:
    return {info.kind: info for info in kinds}


def test_a_v1_xrd_serves_a_cluster_scoped_composite_and_a_namespaced_claim() -> None:
    kinds = by_kind(served_kinds([xrd("v1", claim=True)], BUILTIN_RESOURCES))
    assert kinds["CompositeResourceDefinition"].key == (
        "apiextensions.crossplane.io",
        "v1",
        "compositeresourcedefinitions",
    )
    assert not kinds["XDatabase"].namespaced and kinds["XDatabase"].categories == ("composite",)
    assert kinds["Database"].namespaced and kinds["Database"].plural == "databases"


def test_a_v2_xrd_serves_a_namespaced_composite_and_no_claim() -> None:
    kinds = by_kind(served_kinds([xrd("v2", claim=True)], BUILTIN_RESOURCES))
    assert kinds["XDatabase"].namespaced
    assert "Database" not in kinds
    legacy = by_kind(served_kinds([xrd("v2", claim=True, scope="LegacyCluster")], ()))
    assert "Database" in legacy and not legacy["XDatabase"].namespaced


def test_undefined_kinds_are_served_and_composed_ones_are_managed() -> None:
    composite = {
        "apiVersion": "platform.example.org/v1alpha1",
        "kind": "XDatabase",
        "metadata": {"name": "orders"},
        "spec": {
            "resourceRefs": [{"apiVersion": "rds.aws.upbound.io/v1beta1", "kind": "Instance"}]
        },
    }
    objects = [
        xrd("v1", claim=False),
        composite,
        {"apiVersion": "rds.aws.upbound.io/v1beta1", "kind": "Instance", "metadata": {"name": "x"}},
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "a", "namespace": "argocd"},
        },
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}},
    ]
    kinds = by_kind(served_kinds(objects, BUILTIN_RESOURCES))
    assert kinds["Instance"].categories == ("managed",) and not kinds["Instance"].namespaced
    assert kinds["Application"].plural == "applications" and kinds["Application"].namespaced
    assert "Deployment" not in kinds  # built in


def test_an_export_with_its_own_crd_is_served_by_that_crd() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.org"},
        "spec": {
            "group": "example.org",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgetz", "categories": ["managed"]},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    widget = {
        "apiVersion": "example.org/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "shop"},
    }
    assert served_kinds([crd, widget], BUILTIN_RESOURCES) == []
    server = FakeApiServer(name="widgets")
    try:
        assert load_export(server, [widget, crd]) == 2  # the CRD goes first
        info = server.state.resource(("example.org", "v1", "widgetz"))
        assert info is not None and info.categories == ("managed",)
    finally:
        server.close()
