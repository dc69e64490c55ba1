"""Committing assembled entities: revisions only on change, removals kept, findings
replaced, and a commit that fails anywhere leaves the previous state intact."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa

from trueup.errors import StoreError
from trueup.model.assembled import AssemblyResult
from trueup.model.observation import ScopeFailure, Snapshot
from trueup.model.ref import EntityRef
from trueup.store import Change, CommitSummary, Store
from trueup.store.schema import entities, revisions, sync_runs

from .builders import assembled, at, finding, ref, result, snapshot


def commit(
    store: Store,
    outcome: AssemblyResult,
    *,
    minutes: float = 0,
    cause: str = "sync",
    reads: tuple[Snapshot | ScopeFailure, ...] = (),
) -> CommitSummary:
    run = store.start_run(trigger="test", sources=["catalog"], now=at(minutes))
    return store.commit(run, list(reads), outcome, now=at(minutes), cause=cause)


def test_new_entities_are_created_with_a_first_revision(store: Store) -> None:
    summary = commit(store, result(assembled("a"), assembled("b")), cause="sync run 1")
    assert (summary.created, summary.revisions_written) == (2, 2)
    stored = store.entity(ref("a"))
    assert stored is not None
    assert stored.assembled == assembled("a")
    assert (stored.revision, stored.updated_at, stored.removed) == (1, at(0), False)
    [first] = store.revisions(ref("a"))
    assert (first.number, first.change, first.cause, first.at) == (
        1,
        Change.CREATED,
        "sync run 1; first seen in repo@abc:a.yaml#0",
        at(0),
    )
    assert first.assembled == assembled("a")
    assert first.content_hash == assembled("a").content_hash()
    assert first.run_id == store.runs(limit=1)[0].id


def test_an_unchanged_recommit_writes_no_revision(store: Store) -> None:
    commit(store, result(assembled("a")))
    summary = commit(store, result(assembled("a")), minutes=10)
    assert summary == CommitSummary(unchanged=1)
    assert [r.number for r in store.revisions(ref("a"))] == [1]


def test_newer_ages_update_the_stored_entity_without_a_revision(store: Store) -> None:
    commit(store, result(assembled("a")))
    fresher = assembled("a", when=at(10))
    assert fresher.content_hash() == assembled("a").content_hash()
    summary = commit(store, result(fresher), minutes=10)
    assert (summary.unchanged, summary.revisions_written) == (1, 0)
    stored = store.entity(ref("a"))
    assert stored is not None
    assert stored.assembled.observed_at == at(10)
    assert (stored.revision, stored.updated_at) == (1, at(0))


def test_the_feed_generation_moves_only_with_a_commit_that_writes_an_entity_row(
    store: Store, db_url: str
) -> None:
    commit(store, result(assembled("a")))
    assert (store.generation(), store.feed_generation()) == (1, 1)
    commit(store, result(assembled("a")), minutes=10)  # nothing written
    assert (store.generation(), store.feed_generation()) == (2, 1)
    summary = commit(store, result(assembled("a", when=at(20))), minutes=20)
    assert (summary.unchanged, summary.rewritten, summary.revisions_written) == (1, 1, 0)
    assert (store.generation(), store.feed_generation()) == (3, 3)  # newer ages in the feed
    commit(store, result(assembled("a", when=at(20))), minutes=30)
    commit(store, result(), minutes=40)  # a removal
    assert (store.generation(), store.feed_generation()) == (5, 5)
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:  # commits from before the column: their number stands
            conn.execute(sa.update(sync_runs).values(feed_generation=None))
    finally:
        engine.dispose()
    assert store.feed_generation() == 5
    commit(store, result(), minutes=50)
    assert (store.generation(), store.feed_generation()) == (6, 5)


def test_a_revision_shares_the_entity_document_until_it_is_rewritten_then_keeps_its_own(
    store: Store,
) -> None:
    def stored_documents() -> list[bool]:  # whether each revision row holds its own copy
        with store._engine.connect() as conn:
            query = sa.select(revisions.c.document.is_not(None)).order_by(revisions.c.number)
            return [bool(own) for own in conn.execute(query).scalars()]

    original = assembled("a")
    commit(store, result(original))
    assert stored_documents() == [False]  # one copy, the entity's
    fresher = assembled("a", when=at(10))
    commit(store, result(fresher), minutes=10)  # newer ages: no revision, a new document
    assert stored_documents() == [True]
    commit(store, result(assembled("a", owner="team-b")), minutes=20)
    commit(store, result(), minutes=30)  # removed: the document stays the entity's
    commit(store, result(assembled("a", owner="team-c")), minutes=40)  # restored
    assert stored_documents() == [True, True, False, False]
    history = store.revisions(ref("a"))
    assert [r.change for r in history] == [
        Change.CREATED,
        Change.CHANGED,
        Change.REMOVED,
        Change.RESTORED,
    ]
    assert [r.assembled for r in history] == [
        original,  # as written, not with the ages of the refresh
        assembled("a", owner="team-b"),
        None,
        assembled("a", owner="team-c"),
    ]


def test_a_change_writes_exactly_one_revision_with_its_cause(store: Store) -> None:
    commit(store, result(assembled("a"), assembled("b")))
    summary = commit(
        store, result(assembled("a", owner="team-b"), assembled("b")), minutes=5, cause="webhook 42"
    )
    assert (summary.changed, summary.unchanged, summary.revisions_written) == (1, 1, 1)
    history = store.revisions(ref("a"))
    assert [(r.number, r.change, r.cause) for r in history] == [
        (1, Change.CREATED, "sync; first seen in repo@abc:a.yaml#0"),
        (2, Change.CHANGED, "webhook 42; changed by repo@abc:a.yaml#0 (spec.owner)"),
    ]
    assert history[1].assembled is not None
    assert history[1].assembled.entity["spec"]["owner"] == "team-b"
    stored = store.entity(ref("a"))
    assert stored is not None
    assert (stored.revision, stored.updated_at) == (2, at(5))
    assert [r.number for r in store.revisions(ref("b"))] == [1]


def test_a_change_of_findings_alone_is_a_revision(store: Store) -> None:
    commit(store, result(assembled("a")))
    flagged = assembled("a", findings=(finding("component:default/a"),))
    assert commit(store, result(flagged), minutes=1).changed == 1


def test_removal_writes_a_removal_revision_and_keeps_the_entity(store: Store) -> None:
    commit(store, result(assembled("a"), assembled("b")))
    summary = commit(store, result(assembled("a")), minutes=5, cause="catalog read")
    assert (summary.removed, summary.revisions_written) == (1, 1)
    gone = store.entity(ref("b"))
    assert gone is not None
    assert gone.removed and gone.revision == 2
    assert gone.assembled == assembled("b")  # the last known state stays readable
    last = store.revisions(ref("b"))[-1]
    assert (last.change, last.assembled, last.content_hash, last.cause) == (
        Change.REMOVED,
        None,
        None,
        "catalog read; no source reports it any more (last: repo@abc:b.yaml#0)",
    )
    assert [e.ref.name for e in store.entities()] == ["a"]
    assert [(e.ref.name, e.removed) for e in store.entities(include_removed=True)] == [
        ("a", False),
        ("b", True),
    ]
    assert commit(store, result(assembled("a")), minutes=6) == CommitSummary(unchanged=1)


def test_a_removed_entity_comes_back_restored(store: Store) -> None:
    commit(store, result(assembled("a")))
    commit(store, result(), minutes=1)
    summary = commit(store, result(assembled("a")), minutes=2)
    assert (summary.restored, summary.revisions_written) == (1, 1)
    assert [r.change for r in store.revisions(ref("a"))] == [
        Change.CREATED,
        Change.REMOVED,
        Change.RESTORED,
    ]
    stored = store.entity(ref("a"))
    assert stored is not None
    assert (stored.removed, stored.revision) == (False, 3)


def test_history_is_never_deleted(store: Store) -> None:
    for minute, owner in enumerate(["t1", "t2", "t3", "t1"]):
        commit(store, result(assembled("a", owner=owner)), minutes=minute)
    commit(store, result(), minutes=9)
    history = store.revisions(ref("a"))
    assert [r.number for r in history] == [1, 2, 3, 4, 5]
    assert [r.assembled.entity["spec"]["owner"] for r in history if r.assembled] == [
        "t1",
        "t2",
        "t3",
        "t1",
    ]


def test_entity_refs_are_compared_case_insensitively(store: Store) -> None:
    commit(store, result(assembled("payments")))
    assert store.entity(EntityRef("Component", "Default", "PAYMENTS")) is not None
    assert store.entity(ref("unknown")) is None
    assert store.revisions(ref("unknown")) == []


def test_current_findings_are_replaced(store: Store) -> None:
    about_a = finding("component:default/a")
    loose = finding("file:x.yaml", "invalid-file", "bad YAML")
    commit(store, result(assembled("a", findings=(about_a,)), assembled("b"), findings=(loose,)))
    assert store.findings() == [about_a, loose]
    about_b = finding("component:default/b", "missing-owner", "no owner")
    commit(store, result(assembled("a"), assembled("b", findings=(about_b,))), minutes=1)
    assert store.findings() == [about_b]
    commit(store, result(assembled("a")), minutes=2)  # b removed: its findings go too
    assert store.findings() == []


def test_findings_whose_evidence_changed_are_replaced(store: Store) -> None:
    first = finding("component:default/a")
    commit(store, result(assembled("a", findings=(first,))))
    second = replace(first, evidence={"field": "description", "file": "a.yaml"})
    summary = commit(store, result(assembled("a", findings=(second,))), minutes=1)
    assert summary.revisions_written == 0  # evidence is not part of the content hash
    assert store.findings() == [second]


def test_retrying_a_commit_that_landed_changes_nothing(store: Store) -> None:
    """After an ambiguous commit error the caller re-reads; a blind retry is harmless too."""
    reads = (snapshot(["a", "b"]),)
    outcome = result(assembled("a", owner="x"), assembled("b"))
    run = store.start_run(trigger="test", sources=["catalog"], now=at(0))
    store.commit(run, reads, outcome, now=at(0), cause="sync")
    assert store.runs()[0].committed_at == at(0)
    again = store.commit(run, reads, outcome, now=at(0), cause="sync")
    assert (again.revisions_written, again.unchanged, again.snapshots_unchanged) == (0, 2, 1)
    assert [r.number for r in store.revisions(ref("a"))] == [1]


def visible(store: Store) -> tuple[object, ...]:
    return (
        list(store.entities(include_removed=True)),
        {r: store.revisions(r) for r in (ref("a"), ref("b"), ref("c"))},
        store.findings(),
        store.snapshots(),
        store.scopes(),
    )


def _seed(store: Store) -> None:
    commit(
        store,
        result(assembled("a"), assembled("b", findings=(finding("component:default/b"),))),
        reads=(snapshot(["a", "b"]),),
    )


class Unserialisable:
    pass


def test_a_commit_failing_midway_leaves_the_previous_state_intact(store: Store) -> None:
    _seed(store)
    before = visible(store)
    broken = assembled("c", extra={"bad": Unserialisable()})
    with pytest.raises(StoreError, match="component:default/c"):
        commit(
            store,
            result(assembled("a", owner="new"), broken),  # b removed, a changed, c new
            minutes=5,
            reads=(snapshot(["a", "c"], when=at(5), version="new"),),
        )
    assert visible(store) == before


def test_a_constraint_violation_midway_leaves_the_previous_state_intact(store: Store) -> None:
    _seed(store)
    before = visible(store)
    # The findings are written last; a NULL message violates NOT NULL there.
    messageless = replace(finding("component:default/c"), message=None)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="commit failed"):
        commit(
            store,
            result(assembled("a", owner="new"), assembled("c", findings=(messageless,))),
            minutes=5,
            reads=(snapshot(["a", "c"], when=at(5), version="new"),),
        )
    assert visible(store) == before


def test_a_commit_for_an_unknown_run_is_refused(store: Store) -> None:
    _seed(store)
    before = visible(store)
    with pytest.raises(StoreError, match="sync run 999"):
        store.commit(999, [snapshot(["c"])], result(assembled("c")), now=at(1), cause="x")
    assert visible(store) == before


def test_readers_see_the_previous_state_while_a_commit_is_under_way(store: Store) -> None:
    _seed(store)
    before = visible(store)
    seen: list[tuple[object, ...]] = []

    def read_midway(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO findings") and not seen:
            seen.append(visible(store))  # on other pooled connections

    sa.event.listen(store._engine, "before_cursor_execute", read_midway)
    try:
        commit(
            store,
            result(assembled("a", owner="new"), assembled("c", findings=(finding("x"),))),
            minutes=5,
            reads=(snapshot(["a", "c"], when=at(5), version="new"),),
        )
    finally:
        sa.event.remove(store._engine, "before_cursor_execute", read_midway)
    assert seen == [before]
    assert visible(store) != before


def test_a_document_stored_in_the_earlier_full_form_is_read_then_compacted_without_a_revision(
    store: Store, db_url: str
) -> None:
    commit(store, result(assembled("a")))
    engine = sa.create_engine(db_url)
    try:
        full = assembled("a").to_json()  # each field with its whole provenance
        with engine.begin() as conn:
            # as the earlier release wrote it: its hash is of that text
            conn.execute(
                sa.update(entities).values(document=full, document_hash="of the full text")
            )
            conn.execute(sa.update(revisions).values(document=full))
        stored = store.entity(ref("a"))
        assert stored is not None and stored.assembled == assembled("a")
        assert [r.assembled for r in store.revisions(ref("a"))] == [assembled("a")]
        summary = commit(store, result(assembled("a")), minutes=10)
        assert (summary.unchanged, summary.revisions_written) == (1, 0)
        with engine.connect() as conn:
            document = conn.execute(sa.select(entities.c.document)).scalar_one()
        assert document == json.loads(json.dumps(assembled("a").to_stored()))
    finally:
        engine.dispose()
