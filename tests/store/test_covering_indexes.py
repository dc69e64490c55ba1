"""SQLite: the queries a commit runs over the whole store read an index alone.

Counting the current entities (every commit does) and looking up intent
observations by ref (a cold sync does for every ref) each read a covering index
(migration 0010), not a row of the table per entity or per observation: an
entity row holds its documents, about 6 KB at 100,000 entities. Each test
records the statements a commit runs and asks SQLite for their plans.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from tests.conftest import migrated
from trueup.assemble.assembler import AssemblyPolicy
from trueup.assemble.precedence import Precedence
from trueup.model.observation import Snapshot
from trueup.store import Store
from trueup.store.incremental import CommitRequest

from .builders import T0, at, snapshot

Statement = tuple[str, Any]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with migrated(f"sqlite:///{tmp_path / 'trueup.db'}") as opened:
        yield opened


def _recorded(store: Store) -> list[Statement]:
    """Every statement the store runs from now on, with its parameters."""
    seen: list[Statement] = []

    @event.listens_for(store._engine, "before_cursor_execute")
    def _record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    return seen


def _commit(store: Store, read: Snapshot, minutes: float) -> None:
    policy = AssemblyPolicy(Precedence({}, ["catalog"]), {}, "http://t/feed")
    run = store.start_run(trigger="test", sources=["catalog"], now=at(minutes))
    request = CommitRequest(policy=policy, now=at(minutes))
    store.commit_reads(run, [read], request, cause="test")


def _plan(store: Store, statement: Statement) -> str:
    text, parameters = statement
    with store._engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        rows = raw.execute(f"EXPLAIN QUERY PLAN {text}", parameters).fetchall()
    return "; ".join(str(row[3]) for row in rows)


def _plans(store: Store, statements: list[Statement], *needles: str) -> dict[str, str]:
    """The plans of the SELECTs that contain every one of ``needles``, by their text."""
    selects = [s for s in statements if s[0].startswith("SELECT")]
    chosen = [s for s in selects if all(needle in s[0] for needle in needles)]
    assert chosen, f"no statement with {needles}"
    return {s[0]: _plan(store, s) for s in chosen}


def test_each_commit_counts_the_current_entities_from_an_index(store: Store) -> None:
    statements = _recorded(store)
    _commit(store, snapshot(["a", "b", "c"], when=T0), 0)
    _commit(store, snapshot(["a", "b"], when=at(1), version="def"), 1)
    counts = _plans(store, statements, "count(*)", "FROM entities", "entities.removed")
    assert counts
    for plan in counts.values():
        assert "USING COVERING INDEX ix_entities_expires_at_removed" in plan, plan


def test_the_freshness_schedule_reads_the_same_index(store: Store) -> None:
    statements = _recorded(store)
    _commit(store, snapshot(["a", "b"], when=T0), 0)
    for plan in _plans(store, statements, "min(entities.expires_at)").values():
        assert "USING COVERING INDEX ix_entities_expires_at_removed" in plan, plan


def test_intent_lookups_by_ref_read_an_index_alone(store: Store) -> None:
    statements = _recorded(store)
    _commit(store, snapshot(["a", "b", "c"], when=T0), 0)  # a cold commit: every ref
    _commit(store, snapshot(["a", "b", "c"], when=at(1), owner="team-b", version="def"), 1)
    plans = _plans(store, statements, "observations.ref", "WHERE observations.nature = ?")
    assert any(" IN (" in text for text in plans)  # the lookup by ref is among them
    assert any("DISTINCT" in text for text in plans)  # so is the list of every ref
    for plan in plans.values():
        assert "USING COVERING INDEX ix_observations_ref_nature" in plan, plan
