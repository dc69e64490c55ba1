"""A watch the server ends at once is re-opened after a growing wait, never in a tight loop.

An API server shedding load may answer a watch with 200 and end the stream at
once, with no event, again and again. Re-watching at once would hammer it; as
client-go's reflector does, the watcher waits before the next watch: 0.5 s,
doubling up to 30 s, in fixed steps, and starts over after a watch that brought
an event or lasted. The loopback server ends streams so with
``Fault(close_after=0)``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tests.sources.kubernetes.builders import deployment
from tests.sources.kubernetes.conftest import Clusters
from tests.sources.kubernetes.harness import k8s_config
from trueup.model.observation import ScopeRead, Snapshot
from trueup.sources.kubernetes.watch import WatchSettings
from trueup.sources.kubernetes.watch_source import KubernetesWatchSource
from trueup.testing.kube_api import Fault

DEPLOYMENTS = r"/apis/apps/v1/deployments$"
CLOSED = "watch closed at once"
WAIT = 15.0

Wait = Callable[[threading.Event, float], None]


def real_wait(event: threading.Event, seconds: float) -> None:
    """The waiting a watch does outside tests: until ``event`` is set or time is up."""
    event.wait(seconds)


@contextmanager
def watching(clusters: Clusters, wait: Wait, **settings: Any) -> Iterator[KubernetesWatchSource]:
    source = KubernetesWatchSource(
        k8s_config(clusters, "alpha", collect=["workloads"]),
        settings=WatchSettings(**({"watch_timeout": 60.0, "idle_timeout": 5.0} | settings)),
        wait=wait,
        rng=lambda: 0.0,
    )
    source.start()
    try:
        yield source
    finally:
        source.stop()


def short_wait(event: threading.Event, seconds: float) -> None:
    event.wait(min(seconds, 0.01))


def eventually(check: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def closed_waits(source: KubernetesWatchSource) -> list[float]:
    return [seconds for reason, seconds in source.watchers["alpha"].stats.waits if reason == CLOSED]


def replicas(source: KubernetesWatchSource) -> str | None:
    read: ScopeRead | None = source.latest().get("alpha")
    if not isinstance(read, Snapshot):
        return None
    return next((o.status["replicas"] for o in read.observations if o.ref.name == "shop"), None)


def test_a_watch_the_server_ends_at_once_is_not_reopened_in_a_tight_loop(
    clusters: Clusters,
) -> None:
    server = clusters.alpha
    server.apply(deployment("api", "shop"))
    server.fault(Fault(DEPLOYMENTS, watch=True, close_after=0, times=-1))
    with watching(clusters, real_wait):
        assert eventually(lambda: bool(server.requests_to(DEPLOYMENTS, watch=True)))
        first = server.requests_to(DEPLOYMENTS, watch=True)[0].at
        time.sleep(1.2)
        watches = [r for r in server.requests_to(DEPLOYMENTS, watch=True) if r.at <= first + 1.2]
        # at 0 s and after 0.5 s; the next only 1 s later (re-opened at once: one per request)
        assert len(watches) == 2, len(watches)


def test_the_waits_double_to_30_seconds_and_start_over_after_an_event(
    clusters: Clusters,
) -> None:
    server = clusters.alpha
    server.apply(deployment("api", "shop"))
    change = deployment("api", "shop", ready=1)
    for fault in (
        Fault(DEPLOYMENTS, watch=True, close_after=0, action=lambda: server.apply(change)),
        Fault(DEPLOYMENTS, watch=True, close_after=0, times=8),
        Fault(DEPLOYMENTS, watch=True, close_after=1),  # the change, then the end: progress
        Fault(DEPLOYMENTS, watch=True, close_after=0, times=2),
    ):
        server.fault(fault)
    with watching(clusters, short_wait) as source:
        assert eventually(lambda: len(server.requests_to(DEPLOYMENTS, watch=True)) >= 13)
        assert closed_waits(source) == [0.5, 1, 2, 4, 8, 16, 30, 30, 30, 0.5, 1]
        assert eventually(lambda: replicas(source) == "1/2")
        watches = server.requests_to(DEPLOYMENTS, watch=True)
        assert len({w.query["resourceVersion"] for w in watches}) == 2  # never relisted
        time.sleep(0.2)  # the thirteenth watch stays open: no more waits, no more watches
        assert len(server.requests_to(DEPLOYMENTS, watch=True)) == 13
        assert len(closed_waits(source)) == 11


def test_a_watch_that_lasted_starts_the_waits_over(clusters: Clusters) -> None:
    server = clusters.alpha
    server.bookmark_interval = 3600
    server.apply(deployment("api", "shop"))
    server.fault(Fault(DEPLOYMENTS, watch=True, close_after=0, times=3))
    # the fourth watch runs its timeoutSeconds (1 s) without an event; the next two end at once
    server.fault(Fault(DEPLOYMENTS, watch=True, close_after=0, skip=1, times=2))
    with watching(clusters, short_wait, watch_timeout=1.0) as source:
        assert eventually(lambda: len(server.requests_to(DEPLOYMENTS, watch=True)) >= 7)
        assert closed_waits(source) == [0.5, 1, 2, 0.5, 1]


def test_a_cluster_down_for_hours_is_still_retried_every_30_seconds(clusters: Clusters) -> None:
    """Over 1,024 failed attempts (8½ hours at 30 s): the backoff stays 30 s, the watcher lives."""
    source = KubernetesWatchSource(
        k8s_config(clusters, "down", collect=["workloads"]),
        settings=WatchSettings(watch_timeout=60.0, idle_timeout=5.0),
        wait=lambda event, seconds: None,  # the hours pass at once
        rng=lambda: 0.0,
    )
    source.start()
    try:
        waits = source.watchers["down"].stats.waits
        assert eventually(lambda: len(waits) >= 1100, timeout=20.0), len(waits)
        assert waits[1099] == ("discovery", 30.0)
    finally:
        source.stop()
