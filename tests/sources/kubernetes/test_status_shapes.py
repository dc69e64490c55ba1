"""Row 35 and the collectors over a live cluster: Argo CD and Crossplane status shapes.

Read through the loopback server and assembled by the real pipeline: missing,
unknown or out-of-date status values are shown Unknown (raw values kept), never
Healthy, Synced or Ready. Crossplane kinds are found through the XRDs and
their scope, and managed resources through the ``managed`` category.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sources.kubernetes.builders import (
    ARGO_CRD,
    XRD_CRD,
    application,
    conditions,
    crd,
    crds_for_xrd,
    crossplane_object,
    healthy_status,
    ingress,
    service,
    xrd,
)
from tests.sources.kubernetes.conftest import Clusters
from tests.sources.kubernetes.harness import (
    annotations_of,
    k8s_config,
    live_source,
    names,
    read_all,
    run_sync,
    snapshot,
    store_at,
)
from trueup.sources.kubernetes.collectors import collect

LEGACY = xrd("db.example.org", "XDatabase", "xdatabases", claim=("Database", "databases"), api="v1")
NAMESPACED = xrd("net.example.org", "XNetwork", "xnetworks", scope="Namespaced")
MANAGED = crd(
    "rds.aws.example.org",
    "Instance",
    "instances",
    scope="Cluster",
    categories=("crossplane", "managed"),
)


def install_crossplane(server: object) -> None:
    server.apply(XRD_CRD, LEGACY, NAMESPACED, MANAGED)  # type: ignore[attr-defined]
    server.apply(*crds_for_xrd(LEGACY), *crds_for_xrd(NAMESPACED))  # type: ignore[attr-defined]


def test_row35_argocd_status_shapes_are_unknown_never_healthy(
    clusters: Clusters, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paused = healthy_status()
    paused["health"] = {"status": "Paused"}
    apptree = healthy_status()
    apptree["resourceHealthSource"] = "appTree"
    apptree["resources"] = [{"kind": "Deployment", "name": "x"}]
    no_health = healthy_status()
    del no_health["health"]
    clusters.alpha.apply(
        ARGO_CRD,
        application("paused", status=paused),
        application("apptree", status=apptree),
        application("nohealth", status=no_health),
        application("fine", status=healthy_status()),
    )
    config = k8s_config(clusters, "alpha", collect=["argocd"])
    with store_at(tmp_path) as store:
        outcome = run_sync(monkeypatch, store, live_source(clusters, "alpha"), config)
        (read,) = outcome.snapshots
        raw = {o.ref.name: o.status for o in read.observations}
        assert raw["paused"]["argocd-health"] == "Paused"  # kept verbatim
        assert raw["apptree"]["argocd-resource-health"] == "not reported"
        assert raw["fine"]["argocd-resource-health"] == "Healthy"

        health = {
            name: annotations_of(store, f"component:default/{name}")["trueup.io/argocd-health"]
            for name in ("paused", "nohealth", "apptree", "fine")
        }
        assert health == {
            "paused": "Unknown",
            "nohealth": "Unknown",
            "apptree": "Healthy",
            "fine": "Healthy",
        }


def test_row35_crossplane_conditions_missing_or_behind_are_unknown(
    clusters: Clusters, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_crossplane(clusters.alpha)
    clusters.alpha.apply(
        crossplane_object(
            "db.example.org/v1alpha1",
            "Database",
            "orders",
            namespace="shop",
            conds=conditions(("Ready", "True"), ("Synced", "True")),
        ),
        crossplane_object(
            "db.example.org/v1alpha1",
            "XDatabase",
            "orders-x7k2p",
            labels={"crossplane.io/claim-name": "orders", "crossplane.io/claim-namespace": "shop"},
            conds=conditions(("Ready", "True"), ("Synced", "True"), observed=3),
            generation=4,
        ),
        crossplane_object(
            "net.example.org/v1alpha1",
            "XNetwork",
            "edge",
            namespace="net",
            conds=conditions(("Synced", "True")),
        ),
        crossplane_object(
            "rds.aws.example.org/v1",
            "Instance",
            "orders-db-abcde",
            labels={"crossplane.io/claim-name": "orders", "crossplane.io/claim-namespace": "shop"},
            conds=conditions(("Ready", "True"), ("Synced", "True"), ("UpToDate", "True")),
        ),
    )
    config = k8s_config(clusters, "alpha", collect=["crossplane"])
    with store_at(tmp_path) as store:
        outcome = run_sync(monkeypatch, store, live_source(clusters, "alpha"), config)
        (read,) = outcome.snapshots
        assert names(read) == [
            "Database/orders",
            "Instance/orders-db-abcde",
            "XDatabase/orders-x7k2p",
            "XNetwork/edge",
        ]
        by_kind = {o.provenance.locator.rsplit("/", 2)[1]: o for o in read.observations}
        behind = by_kind["XDatabase"]
        assert str(behind.ref) == "resource:shop/orders"  # the composite enriches its claim
        assert behind.status["crossplane-ready"] == ""
        assert behind.status["crossplane-ready-raw"] == "True"
        assert behind.status["crossplane-reconciling"] == "generation 4, observed 3"
        assert str(by_kind["Instance"].ref) == "resource:shop/orders"
        assert by_kind["Instance"].status["crossplane-uptodate"] == "True"
        assert by_kind["XNetwork"].status["crossplane-ready"] == ""  # no Ready condition

        orders = annotations_of(store, "resource:shop/orders")
        assert orders["trueup.io/crossplane-ready"] == "Unknown"  # one place is behind
        assert orders["trueup.io/crossplane-synced"] == "Unknown"
        edge = annotations_of(store, "resource:net/edge")
        assert edge["trueup.io/crossplane-ready"] == "Unknown"
        assert edge["trueup.io/crossplane-synced"] == "True"


def test_a_v1_xrd_without_claim_names_and_a_v2_cluster_xrd_have_no_claims() -> None:
    from trueup.sources.kubernetes.crossplane import CrossplaneRole, kinds_of_xrd

    legacy = kinds_of_xrd(LEGACY)
    assert [(k.kind, k.role, k.namespaced) for k in legacy] == [
        ("XDatabase", CrossplaneRole.COMPOSITE, False),
        ("Database", CrossplaneRole.CLAIM, True),
    ]
    cluster = xrd("x.example.org", "XThing", "xthings", claim=("Thing", "things"), scope="Cluster")
    assert [(k.kind, k.namespaced) for k in kinds_of_xrd(cluster)] == [("XThing", False)]
    assert [(k.kind, k.namespaced) for k in kinds_of_xrd(NAMESPACED)] == [("XNetwork", True)]


def test_crossplane_in_snapshot_mode_is_found_through_the_exported_xrds() -> None:
    from datetime import UTC, datetime

    objects = [
        LEGACY,
        crossplane_object(
            "db.example.org/v1alpha1",
            "Database",
            "orders",
            namespace="shop",
            conds=conditions(("Ready", "False"), ("Synced", "True")),
        ),
        crossplane_object(
            "db.example.org/v1alpha1",
            "XDatabase",
            "orders-x",
            spec={"resourceRefs": [{"apiVersion": "rds.aws.example.org/v1", "kind": "Instance"}]},
        ),
        crossplane_object(
            "rds.aws.example.org/v1",
            "Instance",
            "db",
            labels={"crossplane.io/composite": "orders-x"},
        ),
        crossplane_object("other.example.org/v1", "Thing", "unrelated"),
    ]
    collected = collect(
        objects, source="s", scope="hub", observed_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    by_name = {o.provenance.locator.split("/")[-1].split("@")[0]: o for o in collected.observations}
    assert sorted(by_name) == ["db", "orders", "orders-x"]
    assert by_name["orders"].status["crossplane-ready"] == "False"
    assert "Ready=False Test" in by_name["orders"].status["crossplane-reason"]
    assert str(by_name["db"].ref) == "resource:default/orders-x"
    assert collected.skipped["other.example.org/v1/Thing"] == 1


def test_services_and_ingresses_are_observed_for_their_component(clusters: Clusters) -> None:
    clusters.alpha.apply(service("shop-svc", "shop"), ingress("shop-web", "shop"))
    read = snapshot(read_all(live_source(clusters, "alpha", collect=["workloads"]))["alpha"])
    statuses = {o.provenance.locator.rsplit("/", 2)[1]: o.status for o in read.observations}
    assert statuses["Service"] == {"service-type": "ClusterIP", "service-ports": "80/TCP,9090/TCP"}
    assert statuses["Ingress"] == {"ingress-hosts": "shop.example.com/,shop.example.com/api"}
    assert {str(o.ref) for o in read.observations} == {"component:default/shop"}
