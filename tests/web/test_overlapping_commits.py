"""Two syncs overlap, and the one that started first commits last.

A long scheduled sync and a quick webhook refresh (or two replicas) overlap: run
ids are handed out when a run starts, so the run that commits last need not have
the highest id. What the server shows must follow the last commit, not the
highest id: the feed's ETag must change, and status must still turn Unknown once
the late commit's data passes its ``max_age``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.sources.git.conftest import component
from tests.test_pipeline import argo_app, component_yaml
from tests.web.harness import AUTH, READ, World, serving
from trueup.config import Config, parse_config
from trueup.model.observation import ScopeRead
from trueup.pipeline import sync
from trueup.store import Store


def _overlapping(slow: Callable[..., object], quick: Callable[[], object]) -> None:
    """Run ``slow(progress=...)`` in a thread, held after its reads until ``quick()`` is done."""
    read = threading.Event()
    go_on = threading.Event()

    def wait_after_reading(_source: str, _read: ScopeRead) -> None:
        read.set()
        assert go_on.wait(30)

    thread = threading.Thread(target=slow, kwargs={"progress": wait_after_reading})
    thread.start()
    try:
        assert read.wait(30)
        quick()
    finally:
        go_on.set()
        thread.join(60)


def test_the_feed_etag_changes_when_an_earlier_started_sync_commits_last(
    world: World, store: Store, base: str
) -> None:
    world.add_shipping()
    world.other.write("catalog-info.yaml", component("billing", "Bills"), component("ledger"))
    world.other.commit("ledger")
    polled: list[httpx.Response] = []

    def quick() -> None:
        sync(world.config, store, only=["other"], trigger="quick")
        polled.append(httpx.get(f"{base}/backstage/entities.yaml", headers=AUTH, timeout=30))

    _overlapping(lambda **kw: sync(world.config, store, only=["catalog"], **kw), quick)
    between = polled[0]
    assert "name: ledger" in between.text and "name: shipping" not in between.text
    assert [r.committed_at is not None for r in store.runs(limit=2)] == [True, True]
    after = httpx.get(
        f"{base}/backstage/entities.yaml",
        headers={**AUTH, "If-None-Match": between.headers["etag"]},
        timeout=30,
    )
    assert after.status_code == 200, "the feed changed, but the poll was told it had not"
    assert "name: shipping" in after.text


def _config(root: Path, db_url: str) -> Config:
    text = json.dumps(
        {
            "database": db_url,
            "public_url": "https://trueup.example.com",
            "data_dir": str(root / "data"),
            "sources": [
                {"id": "catalog", "type": "file", "path": str(root / "catalog")},
                {"id": "extra", "type": "file", "path": str(root / "extra")},
                {
                    "id": "clusters",
                    "type": "kubernetes",
                    "snapshot": str(root / "exports" / "*.json"),
                    "max_age": "1h",
                },
            ],
            "server": {"tokens": [{"name": "r", "role": "read", "token": READ}]},
        }
    )
    return parse_config(text, "test.yaml", {})


def test_status_turns_unknown_after_an_earlier_started_sync_commits_last(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    for folder in ("catalog", "extra", "exports"):
        (tmp_path / folder).mkdir()
    (tmp_path / "catalog" / "payments.yaml").write_text(component_yaml("payments"))
    (tmp_path / "extra" / "ledger.yaml").write_text(component_yaml("ledger"))
    config = _config(tmp_path, db_url)
    sync(config, store, only=["catalog", "extra"], trigger="first")
    export = tmp_path / "exports" / "prod-eu.json"
    export.write_text(
        json.dumps({"apiVersion": "v1", "kind": "List", "items": [argo_app("payments")]})
    )
    # Observed 1 h minus 3 s ago: its status turns stale 3 s from now.
    expires = datetime.now(UTC) + timedelta(seconds=3)
    stamp = (expires - timedelta(hours=1)).timestamp()
    os.utime(export, (stamp, stamp))
    (tmp_path / "extra" / "billing.yaml").write_text(component_yaml("billing"))
    _overlapping(
        lambda **kw: sync(config, store, only=["clusters"], trigger="slow", **kw),
        lambda: sync(config, store, only=["extra"], trigger="quick"),
    )
    assert [r.trigger for r in store.runs(limit=2)] == ["quick", "slow"]
    with serving(config, store) as (base, _):

        def shown() -> dict[str, object]:
            listed = httpx.get(f"{base}/api/v1/entities", headers=AUTH, timeout=30).json()
            return next(i for i in listed["items"] if i["name"] == "payments")

        assert shown()["stale"] is False
        while datetime.now(UTC) < expires + timedelta(seconds=2):
            time.sleep(0.2)
        assert shown()["stale"] is True, "status past its max_age is still shown as fresh"


@pytest.mark.parametrize("from_scratch", [True, False], ids=["from-scratch", "incremental"])
def test_a_read_made_before_a_late_commit_does_not_overwrite_it(
    tmp_path: Path, db_url: str, store: Store, from_scratch: bool
) -> None:
    """The reference path (``--from-scratch``) commits a whole result: it must be refused when
    any commit landed since it started, even one of a run that started before it. (The
    incremental path checks each read's base inside its commit.)"""
    for folder in ("catalog", "extra", "exports"):
        (tmp_path / folder).mkdir()
    (tmp_path / "catalog" / "payments.yaml").write_text(component_yaml("payments"))
    ledger = tmp_path / "extra" / "ledger.yaml"
    ledger.write_text(component_yaml("ledger", owner="team-a"))
    config = _config(tmp_path, db_url)
    sync(config, store, only=["catalog", "extra"], trigger="first")
    slow_read, slow_go, late_read, late_go = (threading.Event() for _ in range(4))

    def hold(source: str, read: threading.Event, go_on: threading.Event) -> Callable[..., None]:
        def progress(read_source: str, _read: ScopeRead) -> None:
            if read_source == source:
                read.set()
                assert go_on.wait(30)

        return progress

    def run(trigger: str, only: list[str], progress: Callable[..., None]) -> threading.Thread:
        thread = threading.Thread(
            target=sync,
            args=(config, store),
            kwargs={
                "only": only,
                "trigger": trigger,
                "progress": progress,
                "from_scratch": from_scratch,
            },
        )
        thread.start()
        return thread

    # The slow run reads the catalog and waits before reading the extra source.
    slow = run("slow", ["catalog", "extra"], hold("catalog", slow_read, slow_go))
    late: threading.Thread | None = None
    try:
        assert slow_read.wait(30)
        sync(config, store, only=["catalog"], trigger="quick", from_scratch=from_scratch)
        ledger.write_text(component_yaml("ledger", owner="team-b"))
        # The late run (started after the quick commit) reads team-b and waits...
        late = run("late", ["extra"], hold("extra", late_read, late_go))
        assert late_read.wait(30)
        # ...while the slow run reads the newer team-c and commits.
        ledger.write_text(component_yaml("ledger", owner="team-c"))
        slow_go.set()
        slow.join(60)
        assert not slow.is_alive()
        [slow_run] = [r for r in store.runs(limit=5) if r.trigger == "slow"]
        assert slow_run.committed_at is not None
    finally:
        slow_go.set()
        late_go.set()
        slow.join(60)
        if late is not None:
            late.join(60)
    shown = next(e for e in store.entities() if e.ref.name == "ledger")
    assert shown.assembled.entity["spec"]["owner"] == "team-c", (
        "an older read overwrote the newer one committed meanwhile"
    )
