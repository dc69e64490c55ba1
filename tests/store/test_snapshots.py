"""Snapshots: a successful read replaces its scope atomically and completely; a failed
read replaces nothing; an identical re-read writes no observation rows."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta, timezone

import pytest
import sqlalchemy as sa

from trueup.errors import StoreError
from trueup.model.observation import FailureKind, Nature, Observation, ScopeFailure, Snapshot
from trueup.store import Store
from trueup.store.schema import observations

from .builders import T0, at, finding, observation, result, snapshot


def canonical(items: Iterable[Observation]) -> list[str]:
    return sorted(json.dumps(o.to_json(), sort_keys=True) for o in items)


def commit(store: Store, *reads: Snapshot | ScopeFailure, minutes: float = 0) -> None:
    run = store.start_run(trigger="test", sources=["catalog"], now=at(minutes))
    store.commit(run, list(reads), result(), now=at(minutes), cause="test")


def observation_rows(store: Store) -> int:
    with store._engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(observations)).scalar_one())


def test_a_snapshot_round_trips(store: Store) -> None:
    snap = snapshot(["b", "a", "c"], findings=(finding("file:a.yaml", "invalid-file"),))
    commit(store, snap)
    stored = store.snapshots()[("catalog", "main")]
    assert canonical(stored.observations) == canonical(snap.observations)
    assert [o.ref.name for o in stored.observations] == ["a", "b", "c"]  # canonical order
    assert stored.findings == snap.findings
    assert (stored.version, stored.read_at, stored.nature) == ("abc", T0, Nature.INTENT)


def test_actual_observations_keep_place_status_links_and_labels(store: Store) -> None:
    seen = observation("api", source="hub", scope="prod", nature=Nature.ACTUAL)
    snap = Snapshot("hub", "prod", Nature.ACTUAL, T0, (seen,), version="rv-12")
    commit(store, snap)
    assert store.snapshots()[("hub", "prod")].observations == (seen,)


def test_a_new_snapshot_replaces_the_old_one_completely(store: Store) -> None:
    commit(store, snapshot(["a", "b", "c"]), snapshot(["x"], scope="other"))
    commit(store, snapshot(["b", "d"], when=at(10), version="def", owner="team-b"), minutes=10)
    current = store.snapshots()
    replaced = current[("catalog", "main")]
    assert [o.ref.name for o in replaced.observations] == ["b", "d"]
    assert {o.fields["spec.owner"] for o in replaced.observations} == {"team-b"}
    assert replaced.version == "def"
    assert [o.ref.name for o in current[("catalog", "other")].observations] == ["x"]
    assert observation_rows(store) == 3


def test_an_empty_snapshot_replaces_with_nothing(store: Store) -> None:
    commit(store, snapshot(["a"]))
    commit(store, snapshot([], when=at(1)), minutes=1)
    assert store.snapshots()[("catalog", "main")].observations == ()
    assert store.scopes()[0].item_count == 0


def test_a_failed_read_replaces_nothing(store: Store) -> None:
    snap = snapshot(["a", "b"])
    commit(store, snap)
    failure = ScopeFailure("catalog", "main", FailureKind.UNREACHABLE, "connection reset", at(5))
    commit(store, failure, minutes=5)
    stored = store.snapshots()[("catalog", "main")]
    assert canonical(stored.observations) == canonical(snap.observations)
    assert stored.read_at == T0


def test_a_scope_that_never_succeeded_has_no_snapshot(store: Store) -> None:
    commit(store, ScopeFailure("hub", "prod", FailureKind.FORBIDDEN, "403 on deployments", T0))
    assert store.snapshots() == {}


def test_an_identical_reread_keeps_the_rows_and_records_the_read(store: Store) -> None:
    commit(store, snapshot(["a", "b"]))
    with store._engine.connect() as conn:
        before = conn.execute(sa.select(observations)).all()
    run = store.start_run(trigger="test", sources=["catalog"], now=at(30))
    summary = store.commit(
        run, [snapshot(["b", "a"], when=T0, version="v2")], result(), now=at(30), cause="t"
    )
    assert (summary.snapshots_replaced, summary.snapshots_unchanged) == (0, 1)
    with store._engine.connect() as conn:
        assert conn.execute(sa.select(observations)).all() == before
    stored = store.snapshots()[("catalog", "main")]
    assert stored.version == "v2"


def test_a_reread_with_new_times_brings_the_new_times(store: Store) -> None:
    commit(store, snapshot(["a", "b", "c"]))
    times = {"a": at(7), "b": T0, "c": at(9)}
    reread = Snapshot(
        "catalog",
        "main",
        Nature.INTENT,
        at(10),
        tuple(observation(name, when=when) for name, when in reversed(times.items())),
    )
    run = store.start_run(trigger="test", sources=["catalog"], now=at(10))
    assert store.commit(run, [reread], result(), now=at(10), cause="t").snapshots_replaced == 1
    stored = store.snapshots()[("catalog", "main")]
    assert {o.ref.name: o.provenance.observed_at for o in stored.observations} == times
    assert observation_rows(store) == 3  # "b" kept its row; "a" and "c" were replaced
    commit(store, snapshot(["a"], when=at(20)), minutes=20)
    stored = store.snapshots()[("catalog", "main")]
    assert [o.provenance.observed_at for o in stored.observations] == [at(20)]


def test_times_in_other_offsets_come_back_as_the_same_instant(store: Store) -> None:
    local = T0.astimezone(timezone(timedelta(hours=2)))
    commit(store, snapshot(["a"], when=local))
    stored = store.snapshots()[("catalog", "main")]
    assert stored.read_at == T0
    assert stored.observations[0].provenance.observed_at == T0


def test_a_naive_observed_at_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="naive"):
        commit(store, snapshot(["a"], when=T0.replace(tzinfo=None)))
    assert store.snapshots() == {}
