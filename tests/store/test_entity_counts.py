"""A sync's counts of the current entities read an index, not the entities' rows.

Each commit counts the entities that are not removed, and each run's tally counts
those and the served ones. The rows hold the documents and feed texts, so a count
that scans them costs about 0.1 s at 100,000 entities on SQLite, in every sync.
``ix_entities_removed_served`` answers both: on SQLite the statements as executed
are planned on it alone (``EXPLAIN QUERY PLAN``), and on both stores the counts
are right, an entity refused for Backstage's rules (not served) and a removed one
included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection

from tests.conftest import migrated
from trueup.assemble.assembler import AssemblyPolicy
from trueup.assemble.precedence import Precedence
from trueup.model.observation import Nature, Snapshot
from trueup.store import Store
from trueup.store.incremental import CommitRequest

from .builders import at, observation

TOO_LONG = "x" * 70  # over Backstage's 63 characters: assembled, kept, never served
COVERED = ["SEARCH entities USING COVERING INDEX ix_entities_removed_served (removed=?)"]
# The tally's served count is the index's expression, read from the index (not "covering"
# in the plan's words, yet no column of a row is read: see _columns_read_from_the_rows).
INDEXED = ["SEARCH entities USING INDEX ix_entities_removed_served (removed=?)"]


def catalog(*names: str, minutes: float = 0) -> Snapshot:
    """A read of Components that Backstage takes, unless a name breaks its rules."""
    fields = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "spec.owner": "team-a",
        "spec.type": "service",
        "spec.lifecycle": "production",
    }
    return Snapshot(
        source="catalog",
        scope="main",
        nature=Nature.INTENT,
        read_at=at(minutes),
        observations=tuple(
            observation(n, when=at(minutes), fields={**fields, "metadata.name": n}) for n in names
        ),
    )


def _commit_reads(store: Store, read: Snapshot, minutes: float = 0) -> int:
    policy = AssemblyPolicy(Precedence({}, ["catalog"]), {}, "http://t/feed")
    run = store.start_run(trigger="test", sources=["catalog"], now=at(minutes))
    committed = store.commit_reads(
        run,
        [read],
        CommitRequest(policy=policy, now=at(minutes), accepted=frozenset({"catalog"})),
        cause="test",
    )
    return committed.entities


def test_the_counts_are_right_with_entities_removed_and_not_served(store: Store) -> None:
    assert _commit_reads(store, catalog("a", "b", "c", TOO_LONG)) == 4
    assert store.tally()[:2] == (4, 3)
    assert _commit_reads(store, catalog("a", TOO_LONG, minutes=1), minutes=1) == 2
    assert store.tally()[:2] == (2, 1)


def test_the_counts_of_a_commit_and_a_tally_read_the_index_alone(tmp_path: Path) -> None:
    with migrated(f"sqlite:///{tmp_path / 'trueup.db'}") as store:
        _planned_on_the_index(store)


def _planned_on_the_index(store: Store) -> None:
    """SQLite's plan; PostgreSQL plans by its statistics, so a small table is scanned."""
    counts: list[tuple[str, Any]] = []

    @event.listens_for(store._engine, "before_cursor_execute")
    def _keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.startswith("SELECT count(*)") and "FROM entities" in statement:
            counts.append((statement, parameters))

    _commit_reads(store, catalog("a", TOO_LONG))
    store.tally()
    assert len(counts) == 2  # the commit's, the tally's
    with store._engine.connect() as conn:
        for statement, parameters in counts:
            explained = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plan = [row[3] for row in explained]
            assert plan in (COVERED, INDEXED), (statement, plan)
            assert _columns_read_from_the_rows(conn, statement, parameters) == 0, statement


def _columns_read_from_the_rows(conn: Connection, statement: str, parameters: Any) -> int:
    """How many ``Column`` instructions of the statement's program read the table itself.

    A plan "USING INDEX" (not "COVERING") may still read each row; the program tells:
    its cursor on the table is only ever read if a column of a row is needed.
    """
    root = conn.exec_driver_sql(
        "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = 'entities'"
    ).scalar_one()
    program = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
    on_table = {row[2] for row in program if row[1] == "OpenRead" and row[3] == root}
    return sum(1 for row in program if row[1] == "Column" and row[2] in on_table)
