"""Crash safety: a process killed inside a commit, a full disk, and the run table after them.

These held before issue 8 (and must keep holding): ``kill -9`` inside the
commit transaction, on SQLite and on PostgreSQL, leaves the previous complete
state whole; a full disk is a clear error, keeps the old data and recovers once
there is room. New with issue 8: the run the killed process left ``running`` is
marked ``interrupted`` by the next run — and a live run never is.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import run
from tests.hostile.faults import child
from tests.hostile.world import FileWorld, file_world
from trueup.store import Store
from trueup.store.run_owner import RUN_LOCK_CLASS


def _world(tmp_path: Path, db_url: str, files: int) -> FileWorld:
    world = file_world(tmp_path)
    world.config.write_text(world.config.read_text().replace(f"sqlite:///{world.database}", db_url))
    for i in range(files):
        world.component(f"svc-{i:03d}.yaml", f"svc-{i:03d}", description=f"v1 of {i}")
    return world


def _state(db_url: str) -> tuple[list[tuple[str, str]], int]:
    """Every served entity's feed hash, and the number of revisions."""
    with Store.open(db_url) as store:
        feed = [(str(row.ref), row.content_hash) for row in store.feed_rows()]
        revisions = sum(len(store.revisions(e.ref)) for e in store.entities(include_removed=True))
    return feed, revisions


def _wait_for_lock_release(db_url: str, run_id: int) -> None:
    """PostgreSQL notices a killed client's session at once; wait until it has."""
    if not db_url.startswith("postgresql"):
        return
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    query = sa.text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
        "AND classid = :c AND objid = :r AND objsubid = 2"
    )
    try:
        deadline = time.monotonic() + 30
        with engine.connect() as conn:
            while conn.execute(query, {"c": RUN_LOCK_CLASS, "r": run_id}).scalar():
                assert time.monotonic() < deadline, "the killed session still holds its lock"
                time.sleep(0.05)
    finally:
        engine.dispose()


def _kill_inside_a_commit(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> tuple[FileWorld, tuple[list[tuple[str, str]], int]]:
    world = _world(tmp_path, db_url, 30)
    assert run(capsys, "sync", "-c", str(world.config))[0] == 0
    before = _state(db_url)
    for i in range(30, 60):  # 30 new entities and one changed
        world.component(f"svc-{i:03d}.yaml", f"svc-{i:03d}", description=f"v1 of {i}")
    world.component("svc-000.yaml", "svc-000", description="v2 of 0")
    killed = child("kill-in-commit", str(world.config))
    assert isinstance(killed, subprocess.CompletedProcess)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    return world, before


def test_kill_9_inside_a_commit_keeps_the_previous_state_whole(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    world, before = _kill_inside_a_commit(tmp_path, db_url, capsys)
    assert _state(db_url) == before  # all old, nothing of the killed commit
    with Store.open(db_url) as store:
        last = store.runs()[0]
        assert last.committed_at is None and last.finished_at is None
    _wait_for_lock_release(db_url, last.id)
    assert run(capsys, "sync", "-c", str(world.config))[0] == 0
    feed, revisions = _state(db_url)
    assert len(feed) == 60 and revisions == 61  # 60 created, svc-000 changed once
    with Store.open(db_url) as store:
        changed = [r.number for r in store.revisions(next(e.ref for e in store.entities()))]
        assert changed == [1, 2]


def test_a_run_left_running_by_a_killed_process_is_marked_interrupted_by_the_next(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    world, _ = _kill_inside_a_commit(tmp_path, db_url, capsys)
    with Store.open(db_url) as store:
        killed = store.runs()[0]
    assert killed.status == "running"
    _wait_for_lock_release(db_url, killed.id)
    assert run(capsys, "sync", "-c", str(world.config))[0] == 0
    with Store.open(db_url) as store:
        runs = {r.id: r for r in store.runs()}
    assert runs[killed.id].status == "interrupted"
    assert runs[killed.id].finished_at is not None
    assert "its process ended" in runs[killed.id].summary["error"]
    assert [r.status for r in runs.values() if r.id != killed.id] == ["ok", "ok"]


def test_a_live_run_is_never_marked_interrupted(db_url: str) -> None:
    with Store.open(db_url) as store:
        store.upgrade()
    holder = child("hold-run", db_url, wait=False)
    assert isinstance(holder, subprocess.Popen) and holder.stdout is not None
    try:
        live = int(holder.stdout.readline())
        with Store.open(db_url) as store:
            now = store.runs()[0].started_at
            mine = store.start_run(trigger="test", sources=[], now=now)
            statuses = {r.id: r.status for r in store.runs()}
            store.finish_run(mine, status="ok", now=now, summary={})
        assert statuses[live] == "running"  # its owner is alive: left alone
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    _wait_for_lock_release(db_url, live)
    with Store.open(db_url) as store:
        store.start_run(trigger="test", sources=[], now=now)
        assert {r.id: r.status for r in store.runs()}[live] == "interrupted"


def test_a_full_disk_is_a_clear_error_keeps_the_old_data_and_recovers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_url = f"sqlite:///{tmp_path / 'trueup.db'}"
    world = _world(tmp_path, db_url, 10)
    assert run(capsys, "sync", "-c", str(world.config))[0] == 0
    before = _state(db_url)
    for i in range(10, 400):
        world.component(f"svc-{i:03d}.yaml", f"svc-{i:03d}", description="x" * 200)
    full = child("disk-full", str(world.config), "2")  # room for two more pages only
    assert isinstance(full, subprocess.CompletedProcess)
    assert full.returncode == 2, full.stdout + full.stderr
    assert "database or disk is full" in full.stderr and "Traceback" not in full.stderr
    assert _state(db_url) == before
    assert run(capsys, "sync", "-c", str(world.config))[0] == 0  # room again: it recovers
    feed, _ = _state(db_url)
    assert len(feed) == 400
