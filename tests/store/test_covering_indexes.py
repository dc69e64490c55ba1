"""The queries a commit and its tally run over the whole store read an index alone.

Counting the current entities (every commit does), counting those served (the
sync's tally) and looking up intent observations by ref (a cold sync does for
every ref) each read an index (migration 0010), not a row of the table per entity
or per observation: an entity row holds its documents, about 6 KB at 100,000
entities. The removal guard's count by ref keeps the ref index; a selector key's lookup
and the list of every linked ref read a range of the term index. The SQLite tests
record the statements run and ask SQLite for their plans; the tally's figures are
checked on both databases.
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
from trueup.model.observation import Nature, Observation, Snapshot
from trueup.store import Store
from trueup.store.incremental import CommitRequest

from .builders import T0, at, observation, snapshot
from .test_invalidation import APP_SELECTOR, catalog, cluster, declared, running
from .test_invalidation import commit as commit_reads

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


def test_the_removal_guard_counts_a_scopes_rows_by_ref_not_by_scope(store: Store) -> None:
    """Its count per ref is asked by ref alone: asked with the scope too, SQLite (no
    statistics) chose the scope's index and walked every row of the scope."""
    _commit(store, snapshot(["a", "b", "c"], when=T0), 0)
    statements = _recorded(store)
    _commit(store, snapshot(["a", "b"], when=at(1), version="def"), 1)  # c goes
    plans = _plans(store, statements, "count(*)", "FROM observations", "GROUP BY observations.ref")
    for plan in plans.values():
        assert plan.startswith("SEARCH observations USING INDEX ix_observations_ref_nature"), plan


def _document(name: str) -> Observation:
    """A whole Component: served to Backstage unless its name breaks Backstage's rules."""
    fields = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata.name": name,
        "spec.owner": "team-a",
        "spec.type": "service",
        "spec.lifecycle": "production",
    }
    return observation(name, fields=fields)


def _documents(*names: str, minutes: float = 0) -> Snapshot:
    return Snapshot(
        source="catalog",
        scope="main",
        nature=Nature.INTENT,
        read_at=at(minutes),
        observations=tuple(_document(name) for name in names),
        version=f"v{minutes}",
    )


TOO_LONG = "x" * 70  # Backstage refuses a name over 63 characters: never served


def test_the_tally_counts_the_entities_served_and_not(db_url: str) -> None:
    with migrated(db_url) as store:
        _commit(store, _documents("a", "b", TOO_LONG), 0)
        assert store.tally()[:2] == (3, 2)
        assert [row.ref.name for row in store.feed_rows()] == ["a", "b"]
        _commit(store, _documents("a", TOO_LONG, minutes=1), 1)  # b removed
        assert store.tally()[:2] == (2, 1)


def test_the_tally_counts_the_unserved_from_their_index(store: Store) -> None:
    _commit(store, _documents("a", TOO_LONG), 0)
    statements = _recorded(store)
    assert store.tally()[:2] == (2, 1)
    plans = _plans(store, statements, "count(*)", "FROM entities")
    assert len(plans) == 2, plans
    unserved = [plan for text, plan in plans.items() if "feed_yaml IS NULL" in text]
    assert unserved == ["SEARCH entities USING INDEX ix_entities_unserved (removed=?)"], plans
    (total,) = [plan for plan in plans.values() if plan not in unserved]
    assert total.startswith("SCAN entities USING COVERING INDEX"), plans


def test_a_selector_keys_lookup_reads_a_range_of_the_term_index(store: Store) -> None:
    statements = _recorded(store)
    commit_reads(
        store,
        catalog(declared("pay", {APP_SELECTOR: "app=pay"})),
        cluster(running("pay-api", labels={"app": "pay"}, selectors=(APP_SELECTOR,))),
    )
    plans = _plans(store, statements, "observation_terms.term >= ?")
    assert len(plans) == 2  # the selector key's terms; every ref linked (a first commit)
    for plan in plans.values():
        assert (
            "USING COVERING INDEX ix_observation_terms_term_observation_id (term>? AND term<?)"
            in plan
        ), plan
