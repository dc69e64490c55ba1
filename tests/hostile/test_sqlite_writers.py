"""Issue 8, case 1: SQLite with several writers waits instead of failing.

Before: two syncs at once on a 10,000-file world, one of them exited 1 with
``database is locked`` (after the 5 s busy timeout) — exit 1 means a usage
error — and a killed run stayed ``running`` in the run table for ever.

The lock is held by a third writer (``BEGIN IMMEDIATE`` on its own connection)
for longer than SQLite's busy timeout, so the wait is certain to happen, not a
matter of timing.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import run
from tests.hostile.world import file_world
from trueup.store import Store

FILES = 10_000


def _write_files(catalog: Path, count: int) -> None:
    for i in range(count):
        folder = catalog / f"team-{i // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"svc-{i:05d}.yaml").write_text(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
            f"metadata: {{name: svc-{i:05d}, description: service {i}}}\n"
            f"spec: {{type: service, owner: team-{i // 100:03d}, lifecycle: production}}\n"
        )


def _hold_write_lock(database: Path, seconds: float) -> threading.Thread:
    """Another writer holds the database for ``seconds`` (taken before this returns)."""
    holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")

    def release() -> None:
        time.sleep(seconds)
        holder.execute("ROLLBACK")
        holder.close()

    thread = threading.Thread(target=release)
    thread.start()
    return thread


def _sync(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "trueup", "sync", "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_syncs_at_once_on_sqlite_both_finish(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = file_world(tmp_path)
    _write_files(world.catalog, FILES)
    assert run(capsys, "db", "upgrade", "-c", str(world.config))[0] == 0
    holder = _hold_write_lock(world.database, 7.0)  # past SQLite's 5 s busy timeout
    syncs = [_sync(world.config), _sync(world.config)]
    results = [process.communicate(timeout=600) for process in syncs]
    holder.join()
    for process, (out, err) in zip(syncs, results, strict=True):
        assert process.returncode == 0, err
        assert "database is locked" not in out + err
    with Store.open(f"sqlite:///{world.database}") as store:
        runs = store.runs()
        assert [(r.status, r.committed_at is not None) for r in runs] == [("ok", True)] * 2
        assert sum(1 for _ in store.feed_rows()) == FILES


def test_a_commit_that_stays_locked_exits_2_with_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = file_world(tmp_path)
    _write_files(world.catalog, 2000)  # seconds of reading: the lock is taken meanwhile
    world.config.write_text(world.config.read_text() + "database_lock_timeout: 1s\n")
    assert run(capsys, "db", "upgrade", "-c", str(world.config))[0] == 0
    sync = _sync(world.config)
    watcher = sqlite3.connect(world.database, isolation_level=None)
    deadline = time.monotonic() + 60
    while not watcher.execute("SELECT count(*) FROM sync_runs").fetchone()[0]:
        assert time.monotonic() < deadline, "the sync never started its run"
        time.sleep(0.01)
    watcher.execute("BEGIN IMMEDIATE")  # the run has started: its commit will find this
    try:
        out, err = sync.communicate(timeout=120)
    finally:
        watcher.execute("ROLLBACK")
        watcher.close()
    assert sync.returncode == 2, out + err
    assert f"error: commit failed on sqlite:///{world.database}: the database stayed locked " in err
    assert "by another writer for 1 s; nothing was written" in err
    assert "Traceback" not in err
    with Store.open(f"sqlite:///{world.database}") as store:
        assert sum(1 for _ in store.feed_rows()) == 0  # nothing half-written
    code, _, _ = run(capsys, "sync", "-c", str(world.config))  # the lock is gone: it works
    assert code == 0
    with Store.open(f"sqlite:///{world.database}") as store:
        assert [r.status for r in store.runs()] == ["ok", "interrupted"]
