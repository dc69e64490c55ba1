"""A watch the server ends at once is re-opened after a growing wait, never in a tight loop.

An API server shedding load may answer a watch with 200 and end the stream at
once, with no event, again and again. Re-watching at once would hammer it; as
client-go's reflector does, the watcher waits before the next watch: 0.5 s,
doubling up to 30 s, in fixed steps, and starts over after a watch that brought
an event or lasted. The loopback server ends streams so with
``Fault(close_after=0)``.
"""

from __future__ import annotations

import time

from tests.sources.kubernetes.builders import deployment
from tests.sources.kubernetes.conftest import Clusters
from tests.sources.kubernetes.harness import (
    DEPLOYMENTS,
    eventually,
    real_wait,
    shop_replicas,
    short_wait,
    waits,
    watch_source,
    watching,
)
from trueup.testing.kube_api import Fault

CLOSED = "watch closed at once"


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
        assert waits(source, CLOSED) == [0.5, 1, 2, 4, 8, 16, 30, 30, 30, 0.5, 1]
        assert eventually(lambda: shop_replicas(source) == "1/2")
        watches = server.requests_to(DEPLOYMENTS, watch=True)
        assert len({w.query["resourceVersion"] for w in watches}) == 2  # never relisted
        time.sleep(0.2)  # the thirteenth watch stays open: no more waits, no more watches
        assert len(server.requests_to(DEPLOYMENTS, watch=True)) == 13
        assert len(waits(source, CLOSED)) == 11


def test_a_watch_that_lasted_starts_the_waits_over(clusters: Clusters) -> None:
    server = clusters.alpha
    server.bookmark_interval = 3600
    server.apply(deployment("api", "shop"))
    server.fault(Fault(DEPLOYMENTS, watch=True, close_after=0, times=3))
    # the fourth watch runs its timeoutSeconds (1 s) without an event; the next two end at once
    server.fault(Fault(DEPLOYMENTS, watch=True, close_after=0, skip=1, times=2))
    with watching(clusters, short_wait, watch_timeout=1.0) as source:
        assert eventually(lambda: len(server.requests_to(DEPLOYMENTS, watch=True)) >= 7)
        assert waits(source, CLOSED) == [0.5, 1, 2, 0.5, 1]


def test_a_cluster_down_for_hours_is_still_retried_every_30_seconds(clusters: Clusters) -> None:
    """Over 1,024 failed attempts (8½ hours at 30 s): the backoff stays 30 s, the watcher lives."""
    source = watch_source(
        clusters,
        "down",
        wait=lambda event, seconds: None,  # the hours pass at once
    )
    source.start()
    try:
        waited = source.watchers["down"].stats.waits
        assert eventually(lambda: len(waited) >= 1100, timeout=20.0), len(waited)
        assert waited[1099] == ("discovery", 30.0)
    finally:
        source.stop()
