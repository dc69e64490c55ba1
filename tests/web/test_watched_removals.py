"""Held removals in a watched cluster are released by an admin, as in any other source.

A cluster under a watch that loses most of its objects has the removals held
(SPEC 5.4); ``POST /api/v1/removals/accept`` (and the dashboard's release form,
which submits the same job) must release them, though the cluster is synced
from its watch and never polled.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.harness import ADMIN_AUTH, AUTH, live_demo, serving
from trueup.world.live import export_items


def _scope(base: str, source: str, scope: str) -> dict[str, Any]:
    sources = httpx.get(f"{base}/api/v1/sources", headers=AUTH, timeout=30).json()
    found = next(s for s in sources if s["id"] == source)
    return dict(next(s for s in found["scopes"] if s["scope"] == scope))


def _wait(what: str, predicate: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.mark.parametrize("whole_source", [False, True], ids=["scope", "source"])
def test_accepting_removals_of_a_watched_cluster_releases_them(
    tmp_path: Path, whole_source: bool
) -> None:
    with live_demo(tmp_path) as (clusters, config, store):
        index = 1 if whole_source else 0  # not the source's first context
        eu = clusters.clusters[index]
        with serving(config, store) as (base, _):
            before = _scope(base, "clusters", eu.name)
            assert before["item_count"] > 0 and before["held_removals"] == 0
            for obj in export_items(eu.export):
                clusters.servers[index].delete(obj)
            _wait(
                "the emptied cluster's removals were never held",
                lambda: _scope(base, "clusters", eu.name)["held_removals"] > 0,
            )
            answer = httpx.post(
                f"{base}/api/v1/removals/accept",
                json={"name": "clusters" if whole_source else f"clusters/{eu.name}"},
                headers=ADMIN_AUTH,
                timeout=30,
            )
            assert answer.status_code == 202
            _wait(
                f"accepted removals stay held ({answer.json()})",
                lambda: _scope(base, "clusters", eu.name)["held_removals"] == 0,
            )
            assert _scope(base, "clusters", eu.name)["item_count"] == 0
