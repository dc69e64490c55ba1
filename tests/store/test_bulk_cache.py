"""SQLite: a larger page cache for a commit of many rows, and only for it.

A commit that writes at least ``BULK_ROWS`` observations (a cold sync) has a page
cache of ``WRITER_CACHE_KIB`` while it writes; a commit of a few rows keeps SQLite's
own, and the pooled connection has its own cache again afterwards, even when the
commit fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

import trueup.store.store
from tests.conftest import migrated
from trueup.assemble.assembler import AssemblyPolicy
from trueup.assemble.precedence import Precedence
from trueup.model.observation import Snapshot
from trueup.store import Store
from trueup.store.engine import WRITER_CACHE_KIB, bulk_cache
from trueup.store.incremental import CommitRequest

from .builders import T0, result, snapshot

SQLITE_OWN_CACHE = -2000  # KiB: SQLite's default page cache


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with migrated(f"sqlite:///{tmp_path / 'trueup.db'}") as opened:
        yield opened


@pytest.fixture
def bulk_from_three(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three observations make a commit of many rows (10,000 would in production)."""
    monkeypatch.setattr(trueup.store.store, "BULK_ROWS", 3)


def _cache_of(raw: Any) -> int:
    return int(raw.execute("PRAGMA cache_size").fetchone()[0])


def _caches_while_writing_observations(store: Store) -> list[int]:
    """The page cache of the connection at each insert of observations, recorded."""
    seen: list[int] = []

    @event.listens_for(store._engine, "before_cursor_execute")
    def _look(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO observations"):
            seen.append(_cache_of(cursor.connection))

    return seen


def _commit_reads(store: Store, read: Snapshot) -> None:
    policy = AssemblyPolicy(Precedence({}, ["catalog"]), {}, "http://t/feed")
    run = store.start_run(trigger="test", sources=["catalog"], now=T0)
    store.commit_reads(run, [read], CommitRequest(policy=policy, now=T0), cause="test")


def test_a_commit_of_many_observations_writes_them_with_the_large_cache(
    store: Store, bulk_from_three: None
) -> None:
    seen = _caches_while_writing_observations(store)
    _commit_reads(store, snapshot(["a", "b", "c"]))
    assert seen == [-WRITER_CACHE_KIB]
    with store._engine.connect() as conn:  # the pool's one connection, as it was
        assert _cache_of(conn.connection.dbapi_connection) == SQLITE_OWN_CACHE


def test_the_from_scratch_commit_of_many_observations_has_it_too(
    store: Store, bulk_from_three: None
) -> None:
    seen = _caches_while_writing_observations(store)
    run = store.start_run(trigger="test", sources=["catalog"], now=T0)
    store.commit(run, [snapshot(["a", "b", "c"])], result(), now=T0, cause="test")
    assert seen == [-WRITER_CACHE_KIB]


def test_a_commit_of_a_few_observations_keeps_the_small_cache(
    store: Store, bulk_from_three: None
) -> None:
    seen = _caches_while_writing_observations(store)
    _commit_reads(store, snapshot(["a", "b"]))
    assert seen == [SQLITE_OWN_CACHE]


def test_the_cache_is_restored_when_the_transaction_fails(store: Store) -> None:
    with store._engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        with pytest.raises(RuntimeError), bulk_cache(conn), conn.begin():
            assert _cache_of(raw) == -WRITER_CACHE_KIB
            conn.execute(sa.text("SELECT 1"))
            raise RuntimeError("the commit failed")
        assert _cache_of(raw) == SQLITE_OWN_CACHE
