"""The store's bulk inserts: the values SQLAlchemy would write, one executemany per key set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from trueup.store.bulk import insert_rows
from trueup.store.engine import create_engine, parse_url
from trueup.store.schema import metadata, scopes, snapshots, sync_runs

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_rows_are_stored_as_sqlalchemy_stores_them_defaults_times_and_json_included(
    db_url: str,
) -> None:
    engine = create_engine(parse_url(db_url))
    tokyo = timezone(timedelta(hours=9))
    rows = [
        {"id": 1, "source": "a", "scope": "s", "last_success_at": T0},
        {"id": 2, "source": "b", "scope": "s", "last_success_at": T0.astimezone(tokyo)},
        {"id": 3, "source": "c", "scope": "s", "last_success_at": None, "held_removals": 4},
    ]
    try:
        with engine.begin() as conn:
            metadata.create_all(conn, tables=[sync_runs, scopes, snapshots])
            insert_rows(conn, scopes, rows)
            insert_rows(
                conn,
                snapshots,
                [
                    {
                        "scope_id": 1,
                        "nature": "intent",
                        "read_at": T0,
                        "version": "v",
                        "item_count": 0,
                        "findings": [{"code": "x", "evidence": {"n": 1}}],
                    }
                ],
            )
            stored = conn.execute(
                sa.select(scopes.c.id, scopes.c.last_success_at, scopes.c.held_removals).order_by(
                    scopes.c.id
                )
            ).all()
            findings = conn.execute(sa.select(snapshots.c.findings)).scalar_one()
    finally:
        engine.dispose()
    # the same instant in another zone is stored as UTC; a left-out column gets its default
    assert [tuple(r) for r in stored] == [(1, T0, 0), (2, T0, 0), (3, None, 4)]
    assert findings == [{"code": "x", "evidence": {"n": 1}}]


def test_a_naive_time_is_refused_as_sqlalchemy_refuses_it(db_url: str) -> None:
    engine = create_engine(parse_url(db_url))
    try:
        with engine.begin() as conn:
            metadata.create_all(conn, tables=[scopes])
            with pytest.raises(ValueError, match="naive datetime"):
                insert_rows(
                    conn,
                    scopes,
                    [{"source": "a", "scope": "s", "last_success_at": T0.replace(tzinfo=None)}],
                )
    finally:
        engine.dispose()
