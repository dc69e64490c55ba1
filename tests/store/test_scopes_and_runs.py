"""Scope health after successes, failures and held removals; sync runs."""

from __future__ import annotations

import pytest

from trueup.errors import StoreError
from trueup.model.observation import FailureKind, Nature, ScopeFailure, Snapshot
from trueup.store import Store

from .builders import T0, at, result, snapshot


def commit(
    store: Store,
    *reads: Snapshot | ScopeFailure,
    minutes: float = 0,
    held: dict[tuple[str, str], int] | None = None,
) -> None:
    run = store.start_run(trigger="test", sources=["catalog"], now=at(minutes))
    store.commit(run, list(reads), result(), now=at(minutes), cause="test", held=held or {})


def test_health_after_a_success(store: Store) -> None:
    commit(store, snapshot(["a", "b"], version="sha1"))
    [health] = store.scopes()
    assert (health.source, health.scope, health.nature) == ("catalog", "main", Nature.INTENT)
    assert (health.last_success_at, health.read_at, health.item_count) == (T0, T0, 2)
    assert (health.version, health.held_removals, health.failing) == ("sha1", 0, False)
    assert (health.last_failure_at, health.last_error, health.failure_kind) == (None, None, None)


def test_health_after_a_failure_keeps_the_last_success(store: Store) -> None:
    commit(store, snapshot(["a", "b"]))
    failure = ScopeFailure("catalog", "main", FailureKind.RATE_LIMITED, "rate limited", at(5))
    commit(store, failure, minutes=5)
    [health] = store.scopes()
    assert (health.last_success_at, health.item_count, health.read_at) == (T0, 2, T0)
    assert (health.last_failure_at, health.last_error) == (at(5), "rate limited")
    assert health.failure_kind is FailureKind.RATE_LIMITED
    assert health.failing
    commit(store, snapshot(["a", "b"], when=at(10)), minutes=10)
    [health] = store.scopes()
    assert not health.failing
    assert health.last_error == "rate limited"  # the last error stays visible, with its time


def test_a_scope_that_only_ever_failed(store: Store) -> None:
    commit(store, ScopeFailure("hub", "prod", FailureKind.NOT_INSTALLED, "no argocd CRD", T0))
    [health] = store.scopes()
    assert (health.nature, health.read_at, health.version, health.item_count) == (
        None,
        None,
        None,
        0,
    )
    assert health.failing and health.failure_kind is FailureKind.NOT_INSTALLED


def test_held_removals_are_recorded_per_scope(store: Store) -> None:
    commit(store, snapshot(["a"]), snapshot(["b"], scope="other"))
    commit(
        store,
        snapshot(["a"], when=at(1)),
        minutes=1,
        held={("catalog", "main"): 7, ("catalog", "other"): 3},
    )
    assert [(h.scope, h.held_removals) for h in store.scopes()] == [("main", 7), ("other", 3)]
    commit(store, snapshot(["a"], when=at(2)), minutes=2)  # read again, nothing held any more
    assert [(h.scope, h.held_removals) for h in store.scopes()] == [("main", 0), ("other", 3)]


def test_scopes_are_listed_by_source_and_scope(store: Store) -> None:
    commit(
        store,
        snapshot([], source="z"),
        snapshot([], source="a", scope="2"),
        snapshot([], source="a", scope="1"),
    )
    assert [(h.source, h.scope) for h in store.scopes()] == [("a", "1"), ("a", "2"), ("z", "main")]


def test_runs_are_recorded_and_listed_newest_first(store: Store) -> None:
    first = store.start_run(trigger="schedule", sources=["catalog", "hub"], now=T0)
    store.commit(first, [], result(), now=at(1), cause="sync")
    store.finish_run(first, status="ok", now=at(2), summary={"created": 3, "failed": []})
    second = store.start_run(trigger="webhook", sources=["catalog"], now=at(3))
    newest, oldest = store.runs()
    assert (newest.id, newest.status, newest.finished_at, newest.committed_at) == (
        second,
        "running",
        None,
        None,
    )
    assert (oldest.id, oldest.status, oldest.trigger, oldest.sources) == (
        first,
        "ok",
        "schedule",
        ("catalog", "hub"),
    )
    assert (oldest.started_at, oldest.committed_at, oldest.finished_at) == (T0, at(1), at(2))
    assert oldest.summary == {"created": 3, "failed": []}
    assert [r.id for r in store.runs(limit=1)] == [second]


def test_finishing_an_unknown_run_is_an_error(store: Store) -> None:
    with pytest.raises(StoreError, match="sync run 41"):
        store.finish_run(41, status="ok", now=T0, summary={})
