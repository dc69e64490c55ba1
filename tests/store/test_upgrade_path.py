"""A store written by an older trueup, upgraded: nothing lost, nothing changed by the upgrade.

The demo world (a git catalog, two cluster exports, a Terraform state) is synced
a few days running, with an edited file, a removed entity and a cluster export
that comes back empty (its removals held). The store is then taken down to each
older schema with the migrations' own downgrades, which leave the rows as the
trueup of that schema wrote them: below 0008 no scope records how old its data
is; below 0007 no run has a commit number; below 0006 every revision holds its
own copy of its document (a removal none), as the test checks. Upgraded again,
the store must hold the same entities, revisions, documents, findings, feed and
scope health; a sync with nothing changed must write no revision and serve the
feed byte for byte as before.

This replays what was checked by hand with the older trueups themselves
(00e05b5 at 0007, de5bb56 at 0006, d9eea7e at 0005): the same shapes, and the
same outcome.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import trueup.store
from trueup.config import Config as TrueupConfig
from trueup.config import load_config
from trueup.pipeline import SyncOutcome, sync
from trueup.store import Change, Store
from trueup.store.store import SCHEMA_HEAD
from trueup.world.cluster_export import write_list
from trueup.world.demo import DemoWorld, write_demo_world
from trueup.world.demo_history import set_description

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
OLDER = ["0007_commit_number", "0006_shared_revision_document", "0005_dashboard"]


class _World:
    """The demo world, synced into one store a day at a time."""

    def __init__(self, root: Path, db_url: str) -> None:
        self.world: DemoWorld = write_demo_world(root, now=START)
        self.config: TrueupConfig = load_config(self.world.config)
        self.db_url = db_url
        self.now = START

    def day(self, days: float, *, commit: str = "") -> SyncOutcome:
        """Move the clock, commit what the test changed in the catalog, export, sync."""
        self.now = START + timedelta(days=days)
        if commit:
            self.world.commit(commit, when=self.now - timedelta(minutes=10))
        for export in self.world.exports:  # each export job writes its file anew
            stamp = (self.now - timedelta(minutes=5)).timestamp()
            os.utime(export, (stamp, stamp))
        return self.sync(self.now)

    def sync(self, when: datetime) -> SyncOutcome:
        with Store.open(self.db_url) as store:
            store.upgrade()
            return sync(self.config, store, now=lambda: when, trigger="test")


def _history(root: Path, db_url: str) -> _World:
    world = _World(root, db_url)
    world.day(0)
    set_description(world.world, "payments-api", "Authorises, captures and refunds payments.")
    world.day(1, commit="payments-api: it refunds too")
    gone = world.world.not_deployed  # declared only in git: its removal needs no hold
    catalog = world.world.catalog.rglob("*.yaml")
    [declared] = [path for path in catalog if f"name: {gone}\n" in path.read_text()]
    declared.unlink()
    world.day(2, commit=f"{gone}: retired")
    held = next(p for p in world.world.exports if p.stem == "prod-us")
    write_list(held, [], "185990001", indent=4)  # a broken export job: an empty List
    outcome = world.day(3)
    assert outcome.held == {("clusters", "prod-us"): 10}
    world.day(4)  # nothing changed; prod-us still empty, its removals still held
    return world


def _state(store: Store) -> dict[str, Any]:
    """What a store shows: every entity with its document and history, findings, feed, health."""
    entities = list(store.entities(include_removed=True))
    return {
        "entities": [
            (str(e.ref), e.revision, e.removed, e.updated_at, e.assembled.to_json())
            for e in entities
        ],
        "revisions": {
            str(e.ref): [
                (
                    r.number,
                    r.change,
                    r.at,
                    r.run_id,
                    r.cause,
                    r.content_hash,
                    r.assembled.to_json() if r.assembled else None,
                )
                for r in store.revisions(e.ref)
            ]
            for e in entities
        },
        "scores": [
            (c.id, str(c.ref), c.change, c.score, c.owner) for c in store.overview().score_changes()
        ],
        "findings": [f.to_json() for f in store.findings()],
        "feed": [(str(r.ref), r.yaml, r.json) for r in store.feed_rows()],
        "scopes": store.scopes(),
        "runs": store.runs(limit=100),
    }


def _alembic(db_url: str) -> Config:
    config = Config(str(Path(trueup.store.__file__).parent / "alembic.ini"))
    config.cmd_opts = argparse.Namespace(x=[f"url={db_url}"])
    return config


def _columns(engine: sa.Engine, table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(engine).get_columns(table)}


def _check_old_shape(db_url: str, version: str) -> None:
    """The rows as the trueup of ``version`` wrote them."""
    engine = sa.create_engine(db_url)
    try:
        assert "data_at" not in _columns(engine, "scopes")
        assert ("commit_number" in _columns(engine, "sync_runs")) == (version >= "0007")
        with engine.connect() as conn:
            shared = conn.execute(
                sa.text(
                    "SELECT count(*) FROM revisions"
                    " WHERE document IS NULL AND content_hash IS NOT NULL"
                )
            ).scalar_one()
            removals = conn.execute(
                sa.text("SELECT count(*) FROM revisions WHERE change = 'removed'")
            ).scalar_one()
            without = conn.execute(
                sa.text("SELECT count(*) FROM revisions WHERE document IS NULL")
            ).scalar_one()
        if version < "0006":
            assert (shared, without) == (0, removals) and removals >= 1
        else:
            assert shared > 0  # the latest revisions share their entity's document
    finally:
        engine.dispose()


def test_a_store_written_at_an_older_schema_upgrades_with_nothing_lost_or_changed(
    db_url: str, tmp_path: Path
) -> None:
    world = _history(tmp_path / "world", db_url)
    with Store.open(db_url) as store:
        before = _state(store)
        generation = store.generation()
    assert Change.REMOVED in {row[1] for rows in before["revisions"].values() for row in rows}
    held = [s for s in before["scopes"] if s.held_removals]
    assert [(s.scope, s.data_at is not None) for s in held] == [("prod-us", True)]

    last = world.now
    for version in OLDER:
        command.downgrade(_alembic(db_url), version)
        _check_old_shape(db_url, version)
        with Store.open(db_url) as store:
            assert store.schema_version() == {version}
            store.upgrade()
            assert store.schema_version() == {SCHEMA_HEAD}
            assert _state(store) | {"runs": None} == before | {"runs": None}, version
            # Runs keep what they were; the generation never goes back to a value it had.
            runs = store.runs(limit=100)
            assert runs == before["runs"]
            upgraded = store.generation()
            assert upgraded > generation if version < "0007" else upgraded == generation
            generation = upgraded

        # The same instant, nothing changed: nothing written, the feed byte for byte.
        outcome = world.sync(last)
        assert outcome.summary is not None and outcome.summary.revisions_written == 0, version
        assert not outcome.revised, version
        with Store.open(db_url) as store:
            after = _state(store)
            generation = store.generation()
        assert after | {"runs": None} == before | {"runs": None}, version
        before = after

    # Later, still nothing changed: statuses age (the Terraform state is read anew),
    # but no entity gets a revision.
    outcome = world.sync(last + timedelta(minutes=30))
    assert outcome.summary is not None and outcome.summary.revisions_written == 0
    with Store.open(db_url) as store:
        assert _state(store)["revisions"] == before["revisions"]
