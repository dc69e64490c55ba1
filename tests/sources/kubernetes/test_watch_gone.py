"""A server that expires every watch gets relists that back off, never a tight loop of LISTs.

A 410 ``Expired`` (the HTTP answer to a watch, or an ERROR event in its stream)
means relist, and one after a good watch is relisted at once: the normal path
after a compaction. But a server that expires every watch (a compaction storm,
a misbehaving proxy) would then get a full LIST, the heaviest request there is,
in a tight loop. As client-go's reflector does, the relists that follow with no
good watch between wait as a watch the server closed at once does: 0.5 s,
doubling to 30 s, and start over after a watch that brought an event or lasted.
A 504 "too large resource version" relists after the server's Retry-After, and
again after the longer of it and those waits. The loopback server expires a
watch at once with ``Fault(status=410)`` or ``Fault(expire_after=0)``, and
answers it too large with ``Fault(status=504)`` or ``Fault(too_large=True)``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.sources.kubernetes.builders import deployment
from tests.sources.kubernetes.conftest import Clusters
from tests.sources.kubernetes.harness import (
    DEPLOYMENTS,
    eventually,
    real_wait,
    shop_replicas,
    short_wait,
    waits,
    watching,
)
from trueup.testing.kube_api import FakeApiServer, Fault, Request

EXPIRED = "expired resourceVersion"
TOO_LARGE = "too large resourceVersion"
TOO_LARGE_MESSAGE = "Too large resource version: 999, current: 101"

# every watch of the deployments expired at once, in either form a server answers so
EXPIRES_EVERY_WATCH = {
    "http-410": dict(status=410, message="too old resource version: 1 (5)"),
    "error-event-410": dict(expire_after=0),
}
TOO_LARGE_EVERY_WATCH = {
    "http-504": dict(status=504, message=TOO_LARGE_MESSAGE, retry_after=1),
    "error-event-504": dict(too_large=True),  # its event says retryAfterSeconds 1
}


def lists(server: FakeApiServer) -> list[Request]:
    """The deployments' list requests, each the start of a (re)list (no continue pages)."""
    return [r for r in server.requests_to(DEPLOYMENTS, watch=False) if "continue" not in r.query]


def watches(server: FakeApiServer) -> list[Request]:
    return server.requests_to(DEPLOYMENTS, watch=True)


@pytest.mark.parametrize("answer", EXPIRES_EVERY_WATCH.values(), ids=EXPIRES_EVERY_WATCH.keys())
def test_a_server_that_expires_every_watch_is_not_relisted_in_a_tight_loop(
    clusters: Clusters, answer: dict[str, Any]
) -> None:
    server = clusters.alpha
    server.apply(deployment("api", "shop"))
    server.fault(Fault(DEPLOYMENTS, watch=True, times=-1, **answer))
    with watching(clusters, real_wait) as source:
        assert eventually(lambda: bool(lists(server)))
        first = lists(server)[0].at
        time.sleep(1.2)
        window = first + 1.2
        # the list, a relist at once (the first 410), one after 0.5 s; the next only 1 s later
        assert len([r for r in lists(server) if r.at <= window]) == 3
        assert len([r for r in watches(server) if r.at <= window]) == 3
        assert waits(source, EXPIRED)[:2] == [0.5, 1.0]
        assert waits(source, EXPIRED)[2:] in ([], [2.0])  # the wait after 1.5 s, if that came


def test_the_relist_waits_double_to_30_seconds_and_start_over_after_a_good_watch(
    clusters: Clusters,
) -> None:
    server = clusters.alpha
    server.bookmark_interval = 3600
    server.apply(deployment("api", "shop"))
    change = deployment("api", "shop", ready=1)
    for fault in (
        Fault(DEPLOYMENTS, watch=True, status=410, times=9),
        # the change, then the history is compacted: a 410 after a good watch, relisted at once
        Fault(DEPLOYMENTS, watch=True, expire_after=1, action=lambda: server.apply(change)),
        Fault(DEPLOYMENTS, watch=True, expire_after=0, times=2),
    ):
        server.fault(fault)
    with watching(clusters, short_wait) as source:
        assert eventually(lambda: len(watches(server)) >= 13)
        assert waits(source, EXPIRED) == [0.5, 1, 2, 4, 8, 16, 30, 30, 0.5, 1]
        assert eventually(lambda: shop_replicas(source) == "1/2")
        time.sleep(0.2)  # the thirteenth watch stays open: no more relists, no more waits
        assert len(watches(server)) == 13
        assert len(lists(server)) == 13  # the first list and one relist per expired watch
        assert len(waits(source, EXPIRED)) == 10


def test_a_watch_that_lasted_starts_the_relist_waits_over(clusters: Clusters) -> None:
    """A watch that ran its timeoutSeconds (1 s) without an event, then a 410: relisted at once."""
    server = clusters.alpha
    server.bookmark_interval = 3600
    server.apply(deployment("api", "shop"))
    server.fault(Fault(DEPLOYMENTS, watch=True, status=410, times=2))
    server.fault(Fault(DEPLOYMENTS, watch=True, status=410, skip=1, times=2))
    with watching(clusters, short_wait, watch_timeout=1.0) as source:
        assert eventually(lambda: len(watches(server)) >= 6)
        assert waits(source, EXPIRED) == [0.5, 0.5]
        assert len(lists(server)) == 5


@pytest.mark.parametrize("answer", TOO_LARGE_EVERY_WATCH.values(), ids=TOO_LARGE_EVERY_WATCH.keys())
def test_a_server_that_answers_every_watch_too_large_is_relisted_after_growing_waits(
    clusters: Clusters, answer: dict[str, Any]
) -> None:
    """Each relist waits the Retry-After (1 s) at least, then the longer of it and the backoff."""
    server = clusters.alpha
    server.apply(deployment("api", "shop"))
    server.fault(Fault(DEPLOYMENTS, watch=True, times=-1, **answer))
    with watching(clusters, short_wait) as source:
        assert eventually(lambda: len(waits(source, TOO_LARGE)) >= 10)
        assert waits(source, TOO_LARGE)[:10] == [1, 1, 1, 2, 4, 8, 16, 30, 30, 30]


def test_a_good_watch_starts_the_too_large_waits_over(clusters: Clusters) -> None:
    server = clusters.alpha
    server.bookmark_interval = 3600
    server.apply(deployment("api", "shop"))
    change = deployment("api", "shop", ready=1)
    for fault in (
        Fault(DEPLOYMENTS, watch=True, too_large=True, times=4),
        Fault(DEPLOYMENTS, watch=True, close_after=1, action=lambda: server.apply(change)),
        Fault(DEPLOYMENTS, watch=True, too_large=True, times=2),
    ):
        server.fault(fault)
    with watching(clusters, short_wait) as source:
        assert eventually(lambda: len(watches(server)) >= 8)
        assert waits(source, TOO_LARGE) == [1, 1, 1, 2, 1, 1]
        assert eventually(lambda: shop_replicas(source) == "1/2")
        assert len(lists(server)) == 7  # the first list and one relist per watch too large
