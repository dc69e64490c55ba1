"""The dashboard's store reads on SQLite and PostgreSQL: facets, score history, and the
catalog filters (owner through its index, drift, name search)."""

from __future__ import annotations

import sqlalchemy as sa

from trueup.model.assembled import AssemblyResult
from trueup.store import Change, Store
from trueup.store.pages import EntityFilter

from .builders import assembled, at, finding, ref, result


def commit(store: Store, outcome: AssemblyResult, minutes: float) -> None:
    run = store.start_run(trigger="test", sources=["catalog"], now=at(minutes))
    store.commit(run, [], outcome, now=at(minutes), cause=f"sync run {run} (test)")


def names(store: Store, where: EntityFilter) -> list[str]:
    return [e.ref.name for e in store.pages().entities(where, after=None, limit=100)]


def test_kinds_and_owners_are_read_sorted_and_distinct(store: Store) -> None:
    commit(
        store,
        result(
            assembled("api", owner="team-b"),
            assembled("web", owner="group:default/team-a"),
            assembled("db", owner="team-a", kind="resource"),
        ),
        0,
    )
    overview = store.overview()
    assert overview.kinds() == ["component", "resource"]
    assert overview.owners() == ["group:default/team-a", "group:default/team-b"]
    assert overview.owners(limit=1) == ["group:default/team-a"]


def test_score_changes_follow_every_revision_with_its_owner_and_score(store: Store) -> None:
    drift = finding("component:default/api", code="drift", message="argocd-sync is OutOfSync")
    commit(store, result(assembled("api", owner="team-a"), assembled("web", owner="user:bob")), 0)
    commit(
        store,
        result(
            assembled("api", owner="team-b", findings=(drift,)), assembled("web", owner="user:bob")
        ),
        60,
    )
    commit(store, result(assembled("api", owner="team-b", findings=(drift,))), 120)  # web removed

    changes = list(store.overview().score_changes())
    assert [(c.ref.name, c.change, c.score, c.owner, c.at) for c in changes] == [
        ("api", Change.CREATED, 100, "group:default/team-a", at(0)),
        ("web", Change.CREATED, 100, "user:default/bob", at(0)),
        ("api", Change.CHANGED, 90, "group:default/team-b", at(60)),
        ("web", Change.REMOVED, None, None, at(120)),
    ]
    assert [c.id for c in changes] == sorted(c.id for c in changes)
    later = list(store.overview().score_changes(after=changes[1].id))
    assert [c.id for c in later] == [c.id for c in changes[2:]]


def test_owner_drift_and_search_filters_run_in_the_database(store: Store) -> None:
    drift = finding("component:default/payments-api", code="drift", message="OutOfSync")
    commit(
        store,
        result(
            assembled("payments-api", owner="team-pay", findings=(drift,)),
            assembled("payments-worker", owner="team-pay"),
            assembled("search_50%", owner="team-shop"),
            assembled("search-500", owner="team-shop"),
        ),
        0,
    )
    assert names(store, EntityFilter(owner="Group:Default/TEAM-PAY")) == [
        "payments-api",
        "payments-worker",
    ]
    assert names(store, EntityFilter(drift=True)) == ["payments-api"]
    assert names(store, EntityFilter(drift=False, owner="group:default/team-pay")) == [
        "payments-worker"
    ]
    assert names(store, EntityFilter(search="WORKER")) == ["payments-worker"]
    # What a person types is matched literally: % and _ are no wildcards.
    assert names(store, EntityFilter(search="_50%")) == ["search_50%"]
    assert names(store, EntityFilter(search="h_5")) == ["search_50%"]


def test_the_owner_filter_reads_the_owner_index(store: Store) -> None:
    commit(store, result(*(assembled(f"svc-{i:02}", owner=f"team-{i % 3}") for i in range(12))), 0)
    with store._engine.connect() as conn:
        indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("entities")}
    assert "ix_entities_owner_kind_namespace_name" in indexes
    page = store.pages().entities(EntityFilter(owner="group:default/team-1"), after=None, limit=2)
    assert [e.ref.name for e in page] == ["svc-01", "svc-04"]
    rest = store.pages().entities(
        EntityFilter(owner="group:default/team-1"), after=page[-1].ref, limit=10
    )
    assert [e.ref.name for e in rest] == ["svc-07", "svc-10"]


def test_a_removed_entity_leaves_the_filtered_pages(store: Store) -> None:
    commit(store, result(assembled("a", owner="team-a"), assembled("b", owner="team-a")), 0)
    commit(store, result(assembled("a", owner="team-a")), 1)
    assert names(store, EntityFilter(owner="group:default/team-a")) == ["a"]
    stored = store.entity(ref("b"))
    assert stored is not None and stored.removed
