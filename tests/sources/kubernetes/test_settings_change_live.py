"""A live cluster read after ``collect:`` or ``mappings:`` changed shows what the new ones yield.

The live reader lists every wanted type on each sync and keeps nothing by
fingerprint; what it carries over from the stored snapshot is only the types
that failed to list. So a collector dropped from the configuration takes its
statuses off, an added one brings its objects, a changed mapping shows its new
values. Through the real pipeline, on SQLite and PostgreSQL, against the
loopback API server.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.sources.kubernetes.builders import (
    ARGO_CRD,
    NETWORK_XRD,
    XRD_CRD,
    application,
    crds_for_xrd,
    deployment,
    healthy_status,
    network,
    settings_map,
)
from tests.sources.kubernetes.conftest import Clusters
from tests.sources.kubernetes.harness import NOW, k8s_config, live_source, shown
from trueup.config import Config
from trueup.model.ref import EntityRef
from trueup.pipeline import sync
from trueup.store import Store

NETWORK = EntityRef.of("resource", "shop", "payments-net")


def run(clusters: Clusters, store: Store, minutes: int, **settings: Any) -> None:
    """One sync of context ``alpha`` with a source built from these settings, as a restart does."""
    config = k8s_config(clusters, "alpha", **settings)
    outcome = sync(
        Config(sources=[config]),
        store,
        now=lambda: NOW + timedelta(minutes=minutes),
        sources=[live_source(clusters, "alpha", **settings)],
    )
    assert outcome.exit_code == 0 and not outcome.failures and not outcome.held


def test_dropping_a_collector_takes_its_statuses_off(clusters: Clusters, store: Store) -> None:
    clusters.alpha.apply(ARGO_CRD)
    clusters.alpha.apply(
        deployment("api", "payments"), application("payments", status=healthy_status())
    )
    run(clusters, store, 0, collect=["workloads", "argocd"])
    assert shown(store)["argocd-health"] == "Healthy"

    run(clusters, store, 1, collect=["workloads"])

    assert shown(store) == {"replicas": "2/2", "images": "ghcr.io/acme/app:1"}


def test_adding_a_collector_brings_its_objects(clusters: Clusters, store: Store) -> None:
    clusters.alpha.apply(XRD_CRD, NETWORK_XRD)
    clusters.alpha.apply(*crds_for_xrd(NETWORK_XRD))
    clusters.alpha.apply(deployment("api", "payments"), network())
    run(clusters, store, 0, collect=["workloads"])
    assert store.entity(NETWORK) is None

    run(clusters, store, 1, collect=["workloads", "crossplane"])

    assert shown(store, NETWORK) == {"crossplane-ready": "True", "crossplane-synced": "True"}


def test_changing_a_mapping_shows_its_new_values(clusters: Clusters, store: Store) -> None:
    clusters.alpha.apply(deployment("api", "payments"), settings_map())

    def mapped(status: dict[str, str]) -> list[dict[str, Any]]:
        return [{"apiVersion": "v1", "kind": "ConfigMap", "ref": "'payments'", "status": status}]

    run(clusters, store, 0, collect=["workloads"], mappings=mapped({"tier": "data.tier"}))
    assert shown(store)["tier"] == "gold"

    run(clusters, store, 1, collect=["workloads"], mappings=mapped({"tier": "data.region"}))
    assert shown(store)["tier"] == "eu-west-1"

    run(clusters, store, 2, collect=["workloads"])
    assert set(shown(store)) == {"replicas", "images"}
