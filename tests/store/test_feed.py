"""The feed columns: rendered once per change, read without rebuilding entities."""

from __future__ import annotations

from dataclasses import replace

import yaml

from trueup.feed import feed_row
from trueup.store import Store

from .builders import assembled, at, result


def commit(store: Store, *entities: object, minutes: float = 0) -> None:
    run = store.start_run(trigger="test", sources=["catalog"], now=at(minutes))
    store.commit(run, [], result(*entities), now=at(minutes), cause="sync")  # type: ignore[arg-type]


def test_feed_rows_serve_emitted_current_entities_in_ref_order(store: Store) -> None:
    invalid = replace(assembled("c"), emitted=False)
    commit(store, assembled("b"), assembled("a"), invalid, assembled("g", kind="group"))
    rows = list(store.feed_rows())
    assert [str(r.ref) for r in rows] == [
        "component:default/a",
        "component:default/b",
        "group:default/g",
    ]
    expected = feed_row(assembled("a"))
    assert expected is not None and rows[0] == expected
    assert yaml.safe_load(rows[0].yaml) == assembled("a").entity


def test_feed_rows_filter_by_kind_and_drop_removed(store: Store) -> None:
    commit(store, assembled("a"), assembled("g", kind="group"))
    assert [r.ref.kind for r in store.feed_rows(kinds=frozenset({"group"}))] == ["group"]
    commit(store, assembled("g", kind="group"), minutes=1)
    assert [str(r.ref) for r in store.feed_rows()] == ["group:default/g"]


def test_feed_text_follows_a_change(store: Store) -> None:
    commit(store, assembled("a"))
    changed = replace(assembled("a"), entity={**assembled("a").entity, "spec": {"owner": "team-z"}})
    commit(store, changed, minutes=1)
    [row] = list(store.feed_rows())
    assert yaml.safe_load(row.yaml)["spec"] == {"owner": "team-z"}
    assert row.content_hash == changed.content_hash()


def test_scores_give_owner_and_score_without_decoding(store: Store) -> None:
    commit(store, assembled("a", owner="team-a"), assembled("b", owner="user:jdoe"))
    commit(store, assembled("a", owner="team-a"), minutes=1)  # b leaves
    [score] = store.scores()
    assert (str(score.ref), score.owner, score.score) == (
        "component:default/a",
        "group:default/team-a",
        100,
    )
