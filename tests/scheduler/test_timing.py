"""When a source is next due: interval, jitter, back-off; and what a tick submits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trueup.config import parse_config
from trueup.errors import ConfigError
from trueup.scheduler.jobs import SyncJob
from trueup.scheduler.local import LocalQueue
from trueup.scheduler.ticker import due_sources, submit_due
from trueup.scheduler.timing import next_due
from trueup.store import Store
from trueup.store.operations import Operations, Schedule
from trueup.web.serve import Role, build_server

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TEN_MINUTES = timedelta(minutes=10)


def test_a_healthy_source_is_due_one_interval_after_it_started_give_or_take_the_jitter() -> None:
    due = next_due(T0, TEN_MINUTES, failures=0, backoff=timedelta(seconds=30), jitter=0.1)
    assert T0 + timedelta(minutes=9) <= due <= T0 + timedelta(minutes=11)
    exact = next_due(
        T0,
        TEN_MINUTES,
        failures=0,
        backoff=timedelta(seconds=30),
        jitter=0.1,
        uniform=lambda low, high: high,
    )
    assert exact == T0 + timedelta(minutes=11)


def test_failures_back_off_from_the_base_doubling_up_to_the_interval() -> None:
    delays = [
        next_due(T0, TEN_MINUTES, failures=n, backoff=timedelta(seconds=30), jitter=0.0) - T0
        for n in range(1, 8)
    ]
    assert delays == [
        timedelta(seconds=30),
        timedelta(seconds=60),
        timedelta(seconds=120),
        timedelta(seconds=240),
        timedelta(seconds=480),
        TEN_MINUTES,
        TEN_MINUTES,
    ]


CONFIG = """
database: sqlite:///unused.db
sources:
  - {id: a, type: file, path: a, interval: 1m}
  - {id: b, type: file, path: b, interval: 1m}
  - {id: live, type: kubernetes, kubeconfig: kubeconfig}
  - {id: snap, type: kubernetes, snapshot: "exports/*.json"}
"""


def test_due_sources_skip_watched_clusters_and_wait_for_their_time() -> None:
    config = parse_config(CONFIG, "trueup.yaml", {})
    later = Schedule("b", T0, T0, 0, T0 + timedelta(minutes=1))
    assert due_sources(config, {"b": later}, T0) == ["a", "snap"]
    assert due_sources(config, {"b": later}, T0 + timedelta(minutes=1)) == ["a", "b", "snap"]
    # First start: a source read 30 s ago waits for the rest of its interval.
    recent = {"a": T0 - timedelta(seconds=30), "snap": T0 - timedelta(minutes=15)}
    assert due_sources(config, {"b": later}, T0, recent) == ["snap"]


def test_refreshes_are_run_before_periodic_syncs(store: Store) -> None:
    queue = LocalQueue()
    with store.operations().transaction() as conn:
        queue.submit(conn, SyncJob("a"), T0)
        queue.submit(conn, SyncJob("b"), T0)
        pushed = queue.submit(conn, SyncJob("c", "repo", trigger="webhook github"), T0)
    first = store.operations().claim_job(T0, busy=frozenset())
    assert first is not None and first.id == pushed.job_id


def test_a_tick_submits_each_due_source_once(store: Store) -> None:
    config = parse_config(
        CONFIG.replace("  - {id: live, type: kubernetes, kubeconfig: kubeconfig}\n", ""),
        "t.yaml",
        {},
    )
    queue = LocalQueue()
    submitted = submit_due(config, store, queue, T0)
    assert [job.source for job in submitted] == ["a", "b", "snap"]
    assert submit_due(config, store, queue, T0 + timedelta(seconds=59)) == []
    assert store.operations().job_states() == {"todo": 3}


def test_an_equal_waiting_job_absorbs_a_new_one(store: Store) -> None:
    queue = LocalQueue()
    operations = store.operations()
    with operations.transaction() as conn:
        first = queue.submit(conn, SyncJob("a", "scope", trigger="webhook x"), T0)
        second = queue.submit(conn, SyncJob("a", "scope", trigger="webhook y"), T0)
        releasing = queue.submit(
            conn, SyncJob("a", "scope", trigger="api", accept_removals=("a",)), T0
        )
    assert second.coalesced and second.job_id == first.job_id
    assert not releasing.coalesced and releasing.job_id != first.job_id
    claimed = store.operations().claim_job(T0, busy=frozenset())
    assert claimed is not None and claimed.id == first.job_id
    assert store.operations().claim_job(T0, busy=frozenset({"a"})) is None  # one sync per source
    with operations.transaction() as conn:
        assert Operations.waiting_job(conn, "refresh", "a/scope") == releasing.job_id
    assert operations.requeue_interrupted() == 1  # a process died while it ran


def test_with_sqlite_one_process_does_it_all(tmp_path: Path) -> None:
    config = parse_config(f"database: sqlite:///{tmp_path / 'x.db'}\n", "t.yaml", {})
    with Store.open(config.database) as store:
        store.upgrade()
        with pytest.raises(ConfigError, match="--role api needs PostgreSQL"):
            build_server(config, store, Role.api)
        with pytest.raises(ConfigError, match="--role worker needs PostgreSQL"):
            build_server(config, store, Role.worker)
