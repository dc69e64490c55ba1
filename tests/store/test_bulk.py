"""The store's bulk inserts: the values SQLAlchemy would write, one executemany per key set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import postgres_only
from trueup.store.bulk import ANALYZE_AFTER, COPY_FROM, insert_rows
from trueup.store.engine import JSONText, create_engine, parse_url
from trueup.store.schema import UTCDateTime, metadata, scopes, snapshots, sync_runs

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


PROBE = sa.Table(
    "probe",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("term", sa.Text, nullable=False, index=True),
)


def _analysed(conn: sa.Connection) -> bool:
    query = sa.text("SELECT count(*) FROM pg_stats WHERE tablename = 'probe'")
    return bool(conn.execute(query).scalar())


@postgres_only
def test_a_table_grown_in_one_transaction_is_analysed_so_its_index_is_used(db_url: str) -> None:
    """Planned without statistics, ``term IN (100 terms)`` scans the whole table each time."""
    engine = create_engine(parse_url(db_url))
    rows = [{"id": n, "term": f"t:{n}"} for n in range(10 * ANALYZE_AFTER)]
    wanted = ", ".join(f"'t:{n}'" for n in range(1, 10_000, 100))
    try:
        with engine.begin() as conn:
            PROBE.create(conn)
            insert_rows(conn, PROBE, rows[: ANALYZE_AFTER - 1])
            early = _analysed(conn)
            for start in range(ANALYZE_AFTER - 1, len(rows), 1_000):  # batches, as a sync writes
                insert_rows(conn, PROBE, rows[start : start + 1_000])
            late = _analysed(conn)
            plan = conn.exec_driver_sql(
                f"EXPLAIN SELECT id FROM probe WHERE term IN ({wanted})"
            ).scalars()
            text = "\n".join(plan)
    finally:
        engine.dispose()
    assert (early, late) == (False, True)
    assert "Index" in text and "Seq Scan" not in text, text


WIDE = sa.Table(
    "wide",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("ref", sa.Text, nullable=False, index=True),
    sa.Column("document", sa.Text, nullable=False),
)


@postgres_only
def test_the_analysis_samples_only_the_columns_an_index_or_key_names(db_url: str) -> None:
    """The documents are what the planner never filters on, and the dearest to sample."""
    engine = create_engine(parse_url(db_url))
    rows = [{"id": n, "ref": f"c:{n}", "document": "x" * 3000} for n in range(2 * ANALYZE_AFTER)]
    try:
        with engine.begin() as conn:
            WIDE.create(conn)
            for start in range(0, len(rows), 1_000):
                insert_rows(conn, WIDE, rows[start : start + 1_000])
            query = "SELECT attname FROM pg_stats WHERE tablename = 'wide'"
            sampled = set(conn.exec_driver_sql(query).scalars())
    finally:
        engine.dispose()
    assert sampled == {"id", "ref"}


def test_sqlite_tables_are_not_analysed_by_inserts(tmp_path: Path) -> None:
    engine = create_engine(parse_url(f"sqlite:///{tmp_path / 'probe.db'}"))
    try:
        with engine.begin() as conn:
            PROBE.create(conn)
            insert_rows(conn, PROBE, [{"id": n, "term": f"t:{n}"} for n in range(ANALYZE_AFTER)])
            stat = conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
            ).scalar()
    finally:
        engine.dispose()
    assert stat == 0  # SQLite plans from its indexes alone; ANALYZE would only cost time


MIXED = sa.Table(
    "mixed",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("text", sa.Text, nullable=True),
    sa.Column("doc", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("at", UTCDateTime, nullable=True),
    sa.Column("flag", sa.Boolean, nullable=False),
)


def _mixed(n: int) -> dict[str, object]:
    tokyo = timezone(timedelta(hours=9))
    docs = [{"a": [1, None, "é"]}, JSONText('{"b":"tab\\there"}'), None, {"q": 'x"y\\z'}]
    return {
        "id": n,
        "text": [None, "plain", "tab\tnew\nline \\ back", "é ☃"][n % 4],
        "doc": docs[n % 4],
        "at": [T0, T0.astimezone(tokyo), None][n % 3],
        "flag": n % 2 == 0,
    }


@pytest.mark.parametrize("count", [COPY_FROM - 1, COPY_FROM], ids=["executemany", "copy"])
def test_a_large_insert_stores_what_sqlalchemy_stores(db_url: str, count: int) -> None:
    """On PostgreSQL COPY_FROM rows go through COPY: the same values come back."""
    engine = create_engine(parse_url(db_url))
    rows = [_mixed(n) for n in range(count)]
    try:
        with engine.begin() as conn:
            MIXED.create(conn)
            insert_rows(conn, MIXED, rows)
            bulk = [tuple(r) for r in conn.execute(sa.select(MIXED).order_by(MIXED.c.id))]
            conn.execute(sa.delete(MIXED))
            conn.execute(sa.insert(MIXED), rows)
            plain = [tuple(r) for r in conn.execute(sa.select(MIXED).order_by(MIXED.c.id))]
    finally:
        engine.dispose()
    assert bulk == plain
    assert bulk[1] == (1, "plain", {"b": "tab\there"}, T0, False)


def test_a_copy_that_breaks_a_constraint_fails_as_an_insert_does(db_url: str) -> None:
    engine = create_engine(parse_url(db_url))
    rows = [_mixed(n % (COPY_FROM // 2)) for n in range(COPY_FROM)]  # every id twice
    try:
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            MIXED.create(conn)
            insert_rows(conn, MIXED, rows)
    finally:
        engine.dispose()


def test_a_time_many_rows_share_is_converted_once_and_stored_for_each(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit's rows mostly share its "now": one conversion serves every row holding it."""
    converted: list[datetime | None] = []
    convert = UTCDateTime.process_bind_param

    def counted(self: UTCDateTime, value: datetime | None, dialect: sa.Dialect) -> object:
        converted.append(value)
        return convert(self, value, dialect)

    monkeypatch.setattr(UTCDateTime, "process_bind_param", counted)
    tokyo = timezone(timedelta(hours=9))
    later = T0 + timedelta(hours=1)
    times = [T0, T0.astimezone(tokyo), later, T0, None, later]
    engine = create_engine(parse_url(db_url))
    try:
        with engine.begin() as conn:
            metadata.create_all(conn, tables=[scopes])
            rows = [
                {"id": n, "source": "a", "scope": f"s{n}", "last_success_at": at}
                for n, at in enumerate(times, start=1)
            ]
            insert_rows(conn, scopes, rows)
            stored = conn.execute(
                sa.select(scopes.c.last_success_at).order_by(scopes.c.id)
            ).scalars()
            assert list(stored) == [T0, T0, later, T0, None, later]
    finally:
        engine.dispose()
    assert converted == [T0, later, None]  # each distinct instant once, in row order
