"""The long-running mode: list → watch → relist against the loopback API server.

Test-plan rows 31 (410 during a watch: relist, tombstones, re-watch from the new
version), 32 (silent watch, bookmarks, normal end of stream) and 33 (429 on
watch start: back off without relisting). Waits are recorded and shortened;
every wait in a test is bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.sources.kubernetes.builders import (
    ARGO_CRD,
    application,
    deployment,
    healthy_status,
    service,
)
from tests.sources.kubernetes.conftest import Clusters
from tests.sources.kubernetes.harness import (
    DEPLOYMENTS,
    WAIT,
    eventually,
    k8s_config,
    live_source,
    read_all,
    snapshot,
    watch_source,
)
from trueup.model.observation import FailureKind, ScopeFailure, ScopeRead, Snapshot
from trueup.sources.kubernetes.watch import WatchSettings
from trueup.sources.kubernetes.watch_source import KubernetesWatchSource
from trueup.testing.kube_api import Fault


def short_wait(event: threading.Event, seconds: float) -> None:
    event.wait(min(seconds, 0.02))


@contextmanager
def watching(
    clusters: Clusters, *contexts: str, **settings: Any
) -> Iterator[tuple[KubernetesWatchSource, list[ScopeRead]]]:
    reads: list[ScopeRead] = []
    source = watch_source(clusters, *contexts, wait=short_wait, **settings)
    source.start(on_change=lambda scope, read: reads.append(read))
    try:
        yield source, reads
    finally:
        source.stop()


def list_starts(server: Any) -> int:
    return sum(1 for r in server.requests_to(DEPLOYMENTS, watch=False) if "continue" not in r.query)


def replicas(read: ScopeRead) -> dict[str, str]:
    assert isinstance(read, Snapshot), read
    return {o.ref.name: o.status["replicas"] for o in read.observations if "replicas" in o.status}


def until(source: KubernetesWatchSource, scope: str, check: Any) -> Snapshot:
    def ready(latest: dict[str, ScopeRead]) -> bool:
        read = latest.get(scope)
        return isinstance(read, Snapshot) and bool(check(read))

    assert source.wait_for(ready, WAIT), source.latest().get(scope)
    read = source.latest()[scope]
    assert isinstance(read, Snapshot)
    return read


def test_the_first_snapshot_then_one_per_batch_of_events(clusters: Clusters) -> None:
    clusters.alpha.apply(deployment("api", "shop"), service("api", "shop"))
    clusters.beta.apply(deployment("web", "web"))
    with watching(clusters, "alpha", "beta") as (source, _):
        until(
            source, "alpha", lambda r: replicas(r) == {"shop": "2/2"} and len(r.observations) == 2
        )
        until(source, "beta", lambda r: replicas(r) == {"web": "2/2"})

        clusters.alpha.apply(deployment("api", "shop", ready=1), deployment("new", "newapp"))
        read = until(source, "alpha", lambda r: replicas(r).get("newapp") == "2/2")
        assert replicas(read)["shop"] == "1/2"

        clusters.alpha.delete(deployment("new", "newapp"))
        until(source, "alpha", lambda r: "newapp" not in replicas(r))
        watcher = source.watchers["alpha"]
        assert watcher.stats.lists == 6  # each of the six workload types, once
        assert watcher.tombstones == []


# --- row 31: 410 during a watch --------------------------------------------------------------


def test_row31_410_relists_tombstones_the_gap_and_rewatches_from_the_new_version(
    clusters: Clusters,
) -> None:
    server = clusters.alpha
    server.bookmark_interval = 3600
    server.apply(*[deployment(f"d{i}", f"app{i}") for i in range(4)])
    server.fault(Fault(DEPLOYMENTS, watch=True, expire_after=3))
    with watching(clusters, "alpha") as (source, _):
        until(source, "alpha", lambda r: len(replicas(r)) == 4)
        list_version = server.requests_to(DEPLOYMENTS, watch=True)[0].query["resourceVersion"]

        # three changes reach the watch, then it expires; the deletion falls in the gap
        for i in range(3):
            server.apply(deployment(f"d{i}", f"app{i}", ready=1))
        server.delete(deployment("d3", "app3"))

        read = until(source, "alpha", lambda r: "app3" not in replicas(r))
        assert replicas(read) == {"app0": "1/2", "app1": "1/2", "app2": "1/2"}
        assert len(read.observations) == 3  # no duplicates after the relist
        watcher = source.watchers["alpha"]
        (tomb,) = watcher.tombstones
        assert (tomb.kind, tomb.namespace, tomb.name) == ("Deployment", "shop", "d3")

        assert eventually(lambda: len(server.requests_to(DEPLOYMENTS, watch=True)) >= 2)
        lists = [
            r for r in server.requests_to(DEPLOYMENTS, watch=False) if "continue" not in r.query
        ]
        watches = server.requests_to(DEPLOYMENTS, watch=True)
        assert len(lists) == 2  # the first list and one relist, not a loop
        assert watches[0].query["resourceVersion"] == list_version
        assert int(watches[1].query["resourceVersion"]) > int(list_version)
        assert all(w.query["resourceVersion"] != list_version for w in watches[1:])

        server.apply(deployment("d0", "app0", ready=2))  # and the new watch works
        until(source, "alpha", lambda r: replicas(r).get("app0") == "2/2")


def test_a_too_large_version_on_watch_start_relists(clusters: Clusters) -> None:
    """HTTP 504 "Too large resource version": the version is unknown here, so relist (as a 410)."""
    server = clusters.alpha
    server.apply(deployment("api", "shop"))
    server.fault(
        Fault(
            DEPLOYMENTS,
            watch=True,
            status=504,
            message="Too large resource version: 999, current: 101",
            retry_after=1,
        )
    )
    with watching(clusters, "alpha") as (source, _):
        until(source, "alpha", lambda r: replicas(r) == {"shop": "2/2"})
        assert eventually(lambda: len(server.requests_to(DEPLOYMENTS, watch=True)) >= 2)
        assert list_starts(server) == 2  # the first list and one relist
        assert ("too large resourceVersion", 1.0) in source.watchers["alpha"].stats.waits

        server.apply(deployment("api", "shop", ready=1))
        until(source, "alpha", lambda r: replicas(r) == {"shop": "1/2"})


def test_after_an_etcd_restore_the_too_large_version_relists_and_recovers(
    clusters: Clusters,
) -> None:
    """The store went back in time: the watch's version is ahead of it (ERROR 504 event)."""
    server = clusters.alpha
    server.bookmark_interval = 3600
    server.fresh_wait = 0.1
    server.apply(deployment("old", "oldapp"))
    backup = server.state.rv
    server.apply(deployment("new", "newapp"))
    with watching(clusters, "alpha") as (source, _):
        until(source, "alpha", lambda r: set(replicas(r)) == {"oldapp", "newapp"})
        server.restore(backup)  # "new" was written after the backup: it is gone

        read = until(source, "alpha", lambda r: set(replicas(r)) == {"oldapp"})
        assert len(read.observations) == 1
        watcher = source.watchers["alpha"]
        assert [(t.kind, t.name) for t in watcher.tombstones] == [("Deployment", "new")]
        assert list_starts(server) == 2  # one relist, not a loop
        assert ("too large resourceVersion", 1.0) in watcher.stats.waits

        server.apply(deployment("old", "oldapp", ready=1))  # and the new watch works
        until(source, "alpha", lambda r: replicas(r) == {"oldapp": "1/2"})


# --- row 32: silent watch, bookmarks, end of stream ------------------------------------------


def test_row32_a_silent_watch_is_abandoned_and_resumed_from_the_last_version(
    clusters: Clusters,
) -> None:
    server = clusters.alpha
    server.bookmark_interval = 0.1  # healthy watches are never silent for long
    server.apply(deployment("api", "shop"))
    server.fault(Fault(DEPLOYMENTS, watch=True, silent=True))
    with watching(clusters, "alpha", idle_timeout=0.4) as (source, _):
        until(source, "alpha", lambda r: replicas(r) == {"shop": "2/2"})
        assert eventually(lambda: len(server.requests_to(DEPLOYMENTS, watch=True)) >= 2)
        first, second = server.requests_to(DEPLOYMENTS, watch=True)[:2]
        assert first.query["resourceVersion"] == second.query["resourceVersion"]
        assert second.at - first.at >= 0.4
        assert list_starts(server) == 1  # no relist
        assert source.watchers["alpha"].stats.idle == 1

        server.apply(deployment("api", "shop", ready=0))
        until(source, "alpha", lambda r: replicas(r) == {"shop": "0/2"})


def test_row32_bookmarks_advance_the_version_a_rewatch_starts_from(clusters: Clusters) -> None:
    server = clusters.alpha
    server.bookmark_interval = 0.1
    server.apply(deployment("api", "shop"))
    with watching(clusters, "alpha", watch_timeout=1.0) as (source, _):
        until(source, "alpha", lambda r: replicas(r) == {"shop": "2/2"})
        server.apply(service("other", "other"))  # moves the store's version, not deployments
        watcher = source.watchers["alpha"]
        assert eventually(lambda: len(server.requests_to(DEPLOYMENTS, watch=True)) >= 2)
        first, second = server.requests_to(DEPLOYMENTS, watch=True)[:2]
        assert first.query["timeoutSeconds"] == "1" and first.query["allowWatchBookmarks"] == "true"
        assert int(second.query["resourceVersion"]) > int(first.query["resourceVersion"])
        assert watcher.stats.bookmarks >= 1
        assert list_starts(server) == 1


# --- row 33: 429 on watch start ------------------------------------------------------------


def test_row33_a_429_on_watch_start_backs_off_without_relisting(clusters: Clusters) -> None:
    server = clusters.alpha
    server.apply(deployment("api", "shop"))
    server.fault(Fault(DEPLOYMENTS, watch=True, status=429, retry_after=3))
    with watching(clusters, "alpha") as (source, _):
        until(source, "alpha", lambda r: replicas(r) == {"shop": "2/2"})
        assert eventually(lambda: len(server.requests_to(DEPLOYMENTS, watch=True)) >= 2)
        watcher = source.watchers["alpha"]
        assert ("429 Retry-After", 3.0) in watcher.stats.waits
        refused, resumed = server.requests_to(DEPLOYMENTS, watch=True)[:2]
        assert refused.query["resourceVersion"] == resumed.query["resourceVersion"]
        assert list_starts(server) == 1

        server.apply(deployment("api", "shop", ready=1))
        until(source, "alpha", lambda r: replicas(r) == {"shop": "1/2"})


# --- failures while watching ---------------------------------------------------------------


def test_403_on_one_watched_type_keeps_its_objects_with_a_finding(clusters: Clusters) -> None:
    server = clusters.alpha
    server.apply(deployment("api", "shop"), service("api", "shop"))
    server.fault(Fault(DEPLOYMENTS, watch=True, status=403, times=-1))
    with watching(clusters, "alpha") as (source, _):
        read = until(
            source,
            "alpha",
            lambda r: any(f.evidence.get("kind") == "forbidden" for f in r.findings),
        )
        assert sorted(o.provenance.locator.split("@")[0] for o in read.observations) == [
            "alpha/shop/Deployment/api",
            "alpha/shop/Service/api",
        ]


def _seen_at(read: ScopeRead, kind: str) -> list[object]:
    assert isinstance(read, Snapshot), read
    return [
        o.provenance.observed_at for o in read.observations if f"/{kind}/" in o.provenance.locator
    ]


def test_a_watch_that_keeps_failing_lets_its_objects_turn_stale(clusters: Clusters) -> None:
    """No watch, no news: the type's objects keep the time they were last known, not now."""
    server = clusters.alpha
    server.apply(deployment("api", "shop"), service("api", "shop"))
    server.fault(Fault(DEPLOYMENTS, watch=True, status=503, times=-1))
    with watching(clusters, "alpha", refresh=0.05) as (source, _):
        first = until(source, "alpha", lambda r: replicas(r) == {"shop": "2/2"})
        (listed_at,) = _seen_at(first, "Deployment")
        assert eventually(lambda: len(server.requests_to(DEPLOYMENTS, watch=True)) >= 3)
        # the healthy Service watch is re-stamped meanwhile; the Deployment is not
        later = until(
            source, "alpha", lambda r: _seen_at(r, "Service") != _seen_at(first, "Service")
        )
        assert _seen_at(later, "Deployment") == [listed_at]


def test_a_cluster_that_is_down_is_a_scope_failure_not_an_empty_cluster(clusters: Clusters) -> None:
    with watching(clusters, "down", "alpha") as (source, reads):
        assert source.wait_for(lambda latest: isinstance(latest.get("down"), ScopeFailure), WAIT)
        failure = source.latest()["down"]
        assert isinstance(failure, ScopeFailure) and failure.kind is FailureKind.UNREACHABLE
        assert not any(isinstance(r, Snapshot) and r.scope == "down" for r in reads)


def _shop_app(health: str) -> dict[str, Any]:
    status = healthy_status()
    status["health"]["status"] = health
    return application("shop", status=status)


def _health(read: Snapshot) -> list[str]:
    return sorted(str(o.status.get("argocd-health")) for o in read.observations)


def test_a_type_lost_by_rediscovery_keeps_its_watched_state_not_the_stored_one(
    clusters: Clusters,
) -> None:
    server = clusters.alpha
    server.apply(ARGO_CRD, _shop_app("Degraded"))
    stored = snapshot(read_all(live_source(clusters, "alpha", collect=["argocd"]))["alpha"])
    source = KubernetesWatchSource(
        k8s_config(clusters, "alpha", collect=["argocd"]),
        settings=WatchSettings(watch_timeout=60.0, idle_timeout=5.0, rediscover=0.2),
        wait=short_wait,
        rng=lambda: 0.0,
    )
    source.start(previous={"alpha": stored})
    try:
        until(source, "alpha", lambda r: _health(r) == ["Degraded"])
        server.apply(_shop_app("Healthy"))
        until(source, "alpha", lambda r: _health(r) == ["Healthy"])

        server.fault(Fault(r"^/apis/argoproj.io/v1alpha1$", status=403, times=-1))
        read = until(
            source,
            "alpha",
            lambda r: any(f.evidence.get("kind") == "forbidden" for f in r.findings),
        )
        # the last status the watch saw, once: not the stored Degraded beside it
        assert _health(read) == ["Healthy"]
    finally:
        source.stop()
