"""How old the data a scope holds is (``ScopeHealth.data_at``), not only when it was read.

A cluster export written two days ago and read every minute is two days old:
its scope's health must say so, on SQLite and PostgreSQL, through both commit
paths, a re-read that keeps the whole scope, a read the removal guard holds,
and the migration that adds the column to a store written before it.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import trueup.store
from trueup.assemble.assembler import AssemblyPolicy
from trueup.assemble.precedence import Precedence
from trueup.model.observation import Nature, Observation, Snapshot
from trueup.store import ScopeHealth, Store
from trueup.store.incremental import CommitRequest
from trueup.store.schema import observations, scopes, snapshots, sync_runs

from .builders import T0, at, observation, result, snapshot

TWO_DAYS_AGO = T0 - timedelta(days=2)
EXPORT = "sha256:export"  # the fingerprint of the export file, part "" (the whole scope)


def apps(*seen: tuple[str, datetime]) -> tuple[Observation, ...]:
    return tuple(
        observation(name, source="clusters", scope="prod-eu", when=when, nature=Nature.ACTUAL)
        for name, when in seen
    )


def cluster(
    *seen: tuple[str, datetime], read_at: datetime, kept: bool = False, fingerprint: str = EXPORT
) -> Snapshot:
    """A read of the cluster export ``prod-eu``, as the kubernetes snapshot source makes it."""
    return Snapshot(
        source="clusters",
        scope="prod-eu",
        nature=Nature.ACTUAL,
        read_at=read_at,
        observations=() if kept else apps(*seen),
        version="export",
        parts={"": fingerprint},
        kept=frozenset({""}) if kept else frozenset(),
    )


def commit(store: Store, *reads: Snapshot, when: datetime) -> None:
    run = store.start_run(trigger="test", sources=["clusters"], now=when)
    store.commit(run, list(reads), result(), now=when, cause="test")


def commit_reads(store: Store, *reads: Snapshot, when: datetime) -> None:
    policy = AssemblyPolicy(Precedence({}, ["catalog", "clusters"]), {}, "http://t/feed")
    run = store.start_run(trigger="test", sources=["clusters"], now=when)
    store.commit_reads(run, list(reads), CommitRequest(policy=policy, now=when), cause="t")


def health_of(store: Store, scope: str = "prod-eu") -> ScopeHealth:
    [found] = [h for h in store.scopes() if h.scope == scope]
    return found


def test_an_actual_scope_is_as_old_as_its_newest_observation(store: Store) -> None:
    older = TWO_DAYS_AGO - timedelta(hours=3)
    commit(store, cluster(("pay", older), ("orders", TWO_DAYS_AGO), read_at=T0), when=T0)
    health = health_of(store)
    assert health.read_at == T0
    assert health.data_at == TWO_DAYS_AGO


def test_a_reread_that_keeps_the_whole_scope_keeps_its_data_time(store: Store) -> None:
    """The export is unchanged: no observation is read again, the data stays as old."""
    commit(store, cluster(("pay", TWO_DAYS_AGO), read_at=T0), when=T0)
    commit(store, cluster(read_at=at(10), kept=True), when=at(10))
    commit_reads(store, cluster(read_at=at(20), kept=True), when=at(20))
    health = health_of(store)
    assert (health.read_at, health.data_at) == (at(20), TWO_DAYS_AGO)


def test_each_new_read_sets_the_data_time_it_holds_newer_or_older(store: Store) -> None:
    commit(store, cluster(("pay", TWO_DAYS_AGO), read_at=T0), when=T0)
    commit_reads(store, cluster(("pay", at(5)), read_at=at(10), fingerprint="b"), when=at(10))
    assert health_of(store).data_at == at(5)
    # An older export put back (a restored backup): the data is that old again.
    commit_reads(
        store, cluster(("pay", TWO_DAYS_AGO), read_at=at(20), fingerprint="c"), when=at(20)
    )
    assert health_of(store).data_at == TWO_DAYS_AGO


def test_a_held_removal_keeps_the_age_of_the_data_it_holds(store: Store) -> None:
    """The export vanished: the guard holds its entities, and they are two days old."""
    commit_reads(store, cluster(("pay", TWO_DAYS_AGO), read_at=T0), when=T0)
    commit_reads(store, cluster(read_at=at(10), fingerprint="gone"), when=at(10))
    health = health_of(store)
    assert health.held_removals == 1
    assert (health.read_at, health.data_at) == (at(10), TWO_DAYS_AGO)


def test_an_intent_scope_or_one_never_read_has_no_data_time(store: Store) -> None:
    """A declaration does not turn stale with age: its scope shows when it was read."""
    commit(store, snapshot(["pay"], when=TWO_DAYS_AGO), when=T0)
    assert health_of(store, "main").data_at is None


def test_the_migration_sets_the_data_time_of_scopes_stored_before_it(db_url: str) -> None:
    """0007 → 0008: an export kept unchanged across the upgrade is never read again, so
    its stored observations give its data time."""
    config = Config(str(Path(trueup.store.__file__).parent / "alembic.ini"))
    config.cmd_opts = argparse.Namespace(x=[f"url={db_url}"])
    command.upgrade(config, "0007_commit_number")
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            run = conn.execute(
                sa.insert(sync_runs)
                .values(started_at=T0, status="ok", trigger="test", sources=[], summary={})
                .returning(sync_runs.c.id)
            ).scalar_one()
            stored = [
                ("clusters", "prod-eu", Nature.ACTUAL, apps(("pay", TWO_DAYS_AGO - timedelta(1)))),
                ("clusters", "prod-eu", Nature.ACTUAL, apps(("orders", TWO_DAYS_AGO))),
                ("catalog", "main", Nature.INTENT, (observation("pay", when=TWO_DAYS_AGO),)),
            ]
            ids: dict[tuple[str, str], int] = {}
            for source, scope, nature, seen in stored:
                if (source, scope) not in ids:
                    ids[(source, scope)] = conn.execute(
                        sa.insert(scopes)
                        .values(source=source, scope=scope, last_success_at=T0)
                        .returning(scopes.c.id)
                    ).scalar_one()
                    conn.execute(
                        sa.insert(snapshots).values(
                            scope_id=ids[(source, scope)],
                            run_id=run,
                            nature=nature.value,
                            read_at=T0,
                            version="v",
                            item_count=0,
                            findings=[],
                        )
                    )
                for number, seen_one in enumerate(seen):
                    conn.execute(
                        sa.insert(observations).values(
                            scope_id=ids[(source, scope)],
                            part="",
                            ref=str(seen_one.ref),
                            nature=nature.value,
                            digest=f"{scope}-{number}-{seen_one.ref.name}",
                            payload=seen_one.to_json(),
                        )
                    )
            conn.execute(sa.text("UPDATE snapshots SET item_count = 1"))
    finally:
        engine.dispose()
    with Store.open(db_url) as store:
        store.upgrade()
        assert health_of(store).data_at == TWO_DAYS_AGO
        assert health_of(store, "main").data_at is None
    command.downgrade(config, "0007_commit_number")
    with Store.open(db_url) as store:
        assert store.schema_version() == {"0007_commit_number"}
