"""SQLite: a sync's commit leaves the copy of its log into the database file to a thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trueup.store.checkpoint import AUTOCHECKPOINT, Checkpoints
from trueup.store.engine import create_engine, parse_url

PAYLOAD = "x" * 4000  # a page of its own: 1,500 rows make a log over 1,000 pages


def _autocheckpoint(conn: Connection) -> int:
    raw = conn.connection.dbapi_connection
    assert raw is not None
    return int(raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0])


def _log_frames(engine: sa.Engine) -> tuple[int, int]:
    """(frames in the log, frames of it copied into the database file)."""
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        _, frames, copied = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(frames), int(copied)


def _fill(conn: Connection) -> None:
    table = sa.table("blobs", sa.column("body", sa.Text))
    conn.execute(sa.insert(table), [{"body": PAYLOAD + str(n)} for n in range(1500)])


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    made = create_engine(parse_url(f"sqlite:///{tmp_path / 'trueup.db'}"))
    with made.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE blobs (body TEXT)")
    return made


def test_the_commit_does_not_checkpoint_and_a_thread_copies_the_whole_log_afterwards(
    engine: sa.Engine,
) -> None:
    checkpoints = Checkpoints(engine)
    with engine.connect() as conn:
        with checkpoints.deferred(conn), conn.begin():
            assert _autocheckpoint(conn) == 0
            _fill(conn)
        assert _autocheckpoint(conn) == AUTOCHECKPOINT  # the pooled connection as it was
    checkpoints.wait()
    assert checkpoints.completed == 1
    frames, copied = _log_frames(engine)
    assert frames > AUTOCHECKPOINT
    assert copied == frames
    assert not [t for t in threading.enumerate() if t.name == "trueup-wal-checkpoint"]
    engine.dispose()


def test_a_failed_transaction_starts_no_checkpoint_and_restores_the_setting(
    engine: sa.Engine,
) -> None:
    checkpoints = Checkpoints(engine)
    with engine.connect() as conn:
        with pytest.raises(RuntimeError), checkpoints.deferred(conn), conn.begin():
            _fill(conn)
            raise RuntimeError("the commit failed")
        assert _autocheckpoint(conn) == AUTOCHECKPOINT
        assert conn.execute(sa.text("SELECT count(*) FROM blobs")).scalar_one() == 0
    checkpoints.wait()
    assert checkpoints.completed == 0
    engine.dispose()


def test_several_commits_in_a_row_leave_the_whole_log_copied_and_no_thread_behind(
    engine: sa.Engine,
) -> None:
    checkpoints = Checkpoints(engine)
    for _ in range(3):
        with engine.connect() as conn, checkpoints.deferred(conn), conn.begin():
            _fill(conn)
    checkpoints.wait()
    assert 1 <= checkpoints.completed <= 3  # one per commit, or fewer when they overlapped
    frames, copied = _log_frames(engine)
    assert copied == frames
    assert not [t for t in threading.enumerate() if t.name == "trueup-wal-checkpoint"]
    engine.dispose()


def test_nothing_is_deferred_for_a_database_in_memory() -> None:
    engine = create_engine(parse_url("sqlite://"))
    checkpoints = Checkpoints(engine)
    with engine.connect() as conn, checkpoints.deferred(conn), conn.begin():
        assert _autocheckpoint(conn) == AUTOCHECKPOINT
    checkpoints.wait()
    assert checkpoints.completed == 0
    engine.dispose()
