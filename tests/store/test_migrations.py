"""The schema: the Alembic migrations, idempotent, matching the tables the store queries."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import trueup.store
from trueup.assemble.assembler import AssemblyPolicy
from trueup.assemble.precedence import Precedence
from trueup.errors import StoreError
from trueup.model.ref import EntityRef
from trueup.store import Store
from trueup.store.incremental import CommitRequest
from trueup.store.schema import metadata, sync_runs
from trueup.store.store import MIGRATIONS, SCHEMA_HEAD

from .builders import T0, assembled, result

TABLES = {
    "scopes",
    "snapshots",
    "observations",
    "observation_terms",
    "snapshot_parts",
    "assembly_state",
    "entities",
    "entity_terms",
    "revisions",
    "findings",
    "sync_runs",
    "webhook_deliveries",
    "jobs",
    "schedules",
}


def _trueup_tables(names: list[str]) -> set[str]:
    """Table names without procrastinate's (its own schema, applied on PostgreSQL only)."""
    return {name for name in names if not name.startswith("procrastinate_")}


def _not_procrastinate(name: str | None, type_: str, parent: object) -> bool:
    return not (name or "").startswith("procrastinate_")


def test_upgrade_creates_the_schema_on_an_empty_database(db_url: str) -> None:
    with Store.open(db_url) as store:
        store.upgrade()
        with store._engine.connect() as conn:
            tables = _trueup_tables(sa.inspect(conn).get_table_names())
            assert tables == TABLES | {"alembic_version"}
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    assert version == SCHEMA_HEAD


def test_upgrade_is_idempotent(db_url: str) -> None:
    with Store.open(db_url) as store:
        store.upgrade()
        run = store.start_run(trigger="test", sources=[], now=T0)
        store.upgrade()
    with Store.open(db_url) as again:
        again.upgrade()
        assert [r.id for r in again.runs()] == [run]


def test_the_migrated_schema_matches_the_metadata(store: Store) -> None:
    with store._engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_name": _not_procrastinate,
            },
        )
        assert compare_metadata(context, metadata) == []


def test_a_database_ahead_of_this_trueup_is_a_store_error(store: Store) -> None:
    with store._engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(StoreError, match="cannot upgrade the schema"):
        store.upgrade()


def test_schema_head_names_the_one_head_of_the_shipped_migrations() -> None:
    """A database at SCHEMA_HEAD is not upgraded: it must be the newest migration there is."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [SCHEMA_HEAD]


def test_a_database_behind_the_head_is_upgraded(db_url: str) -> None:
    config = Config(str(Path(trueup.store.__file__).parent / "alembic.ini"))
    config.cmd_opts = argparse.Namespace(x=[f"url={db_url}"])
    command.upgrade(config, "0004_serve")
    with Store.open(db_url) as store:
        assert store.schema_version() == {"0004_serve"}
        store.upgrade()
        assert store.schema_version() == {SCHEMA_HEAD}


def test_a_downgrade_gives_every_revision_its_own_document_again(db_url: str) -> None:
    """Below 0006 a revision without a document is a removal: the downgrade copies them back."""
    config = Config(str(Path(trueup.store.__file__).parent / "alembic.ini"))
    config.cmd_opts = argparse.Namespace(x=[f"url={db_url}"])
    with Store.open(db_url) as store:
        store.upgrade()
        run = store.start_run(trigger="test", sources=[], now=T0)
        store.commit(run, [], result(assembled("pay")), now=T0, cause="t")
        [created] = store.revisions(EntityRef.of("component", None, "pay"))
        assert created.assembled is not None
    engine = sa.create_engine(db_url)
    own = sa.text("SELECT count(*) FROM revisions WHERE document IS NOT NULL")
    try:
        with engine.connect() as conn:
            assert conn.execute(own).scalar_one() == 0  # shared with the entity
        command.downgrade(config, "0005_dashboard")
        with engine.connect() as conn:
            assert conn.execute(own).scalar_one() == 1
            stored = conn.execute(sa.text("SELECT document FROM entities")).scalar_one()
            copied = conn.execute(sa.text("SELECT document FROM revisions")).scalar_one()
        assert _decoded(copied) == _decoded(stored)
    finally:
        engine.dispose()


def _decoded(document: object) -> object:
    """A JSON column read with plain SQL: text on SQLite, decoded by psycopg."""
    return json.loads(document) if isinstance(document, str) else document


def test_the_shipped_alembic_ini_runs_the_migrations(db_url: str) -> None:
    """``alembic -c src/trueup/store/alembic.ini -x url=… upgrade head`` for manual runs."""
    config = Config(str(Path(trueup.store.__file__).parent / "alembic.ini"))
    config.cmd_opts = argparse.Namespace(x=[f"url={db_url}"])
    command.upgrade(config, "head")
    with Store.open(db_url) as store:
        assert store.runs() == []


def test_stored_observations_survive_the_incremental_migration(db_url: str) -> None:
    """0001 → 0002 keeps every observation, with the newer times an identical re-read set."""
    config = Config(str(Path(trueup.store.__file__).parent / "alembic.ini"))
    config.cmd_opts = argparse.Namespace(x=[f"url={db_url}"])
    command.upgrade(config, "0001_initial")
    payload: dict[str, object] = {
        "ref": "component:default/pay",
        "nature": "intent",
        "provenance": {"source": "catalog", "scope": "main", "locator": "repo@abc:pay.yaml#0"},
        "fields": {"kind": "Component", "metadata.name": "pay", "spec.owner": "team-a"},
        "place": None,
        "status": {},
        "links": [],
        "labels": {},
        "selectors": [],
    }
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO sync_runs (started_at, status, trigger, sources, summary) "
                    "VALUES (:t, 'ok', 'test', '[]', '{}')"
                ),
                {"t": T0},
            )
            conn.execute(sa.text("INSERT INTO scopes (source, scope) VALUES ('catalog', 'main')"))
            conn.execute(
                sa.text(
                    "INSERT INTO snapshots (scope_id, run_id, nature, read_at, version, "
                    "content_hash, item_count, findings, observed_at) VALUES "
                    "((SELECT id FROM scopes), (SELECT id FROM sync_runs), 'intent', :t, 'v1', "
                    "'x', 1, '[]', :later)"
                ),
                {"t": T0, "later": '"2025-01-01T13:00:00+00:00"'},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO observations (scope_id, position, ref, locator, nature, "
                    "observed_at, payload) VALUES ((SELECT id FROM scopes), 0, "
                    "'component:default/pay', 'repo@abc:pay.yaml#0', 'intent', :t, :payload)"
                ),
                {"t": T0, "payload": json.dumps(payload)},
            )
    finally:
        engine.dispose()
    with Store.open(db_url) as store:
        store.upgrade()
        (observation,) = store.snapshots()[("catalog", "main")].observations
        assert observation.ref.name == "pay"
        assert observation.provenance.observed_at.isoformat() == "2025-01-01T13:00:00+00:00"
        assert observation.fields["spec.owner"] == "team-a"
        # The first commit after the upgrade indexes the moved rows and assembles everything.
        run = store.start_run(trigger="test", sources=[], now=T0)
        policy = AssemblyPolicy(Precedence({}, ["catalog"]), {}, "http://t/backstage/entities.yaml")
        committed = store.commit_reads(run, [], CommitRequest(policy=policy, now=T0), cause="t")
        assert (committed.entities, committed.assembled) == (1, 1)
        stored = store.entity(EntityRef.of("component", None, "pay"))
        assert stored is not None and stored.assembled.entity["spec"]["owner"] == "team-a"


def test_committed_runs_are_numbered_in_the_order_their_commits_landed(db_url: str) -> None:
    """0006 → 0007 numbers the committed runs by ``committed_at`` (then id), above the old
    generation (the highest committed id), so the generation never takes an old value."""
    config = Config(str(Path(trueup.store.__file__).parent / "alembic.ini"))
    config.cmd_opts = argparse.Namespace(x=[f"url={db_url}"])
    command.upgrade(config, "0006_shared_revision_document")
    committed = [T0 + timedelta(minutes=m) for m in (1, 3, 2)] + [None, T0 + timedelta(minutes=2)]
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            ids = [
                conn.execute(
                    sa.insert(sync_runs)
                    .values(
                        started_at=T0,
                        committed_at=at,
                        status="ok",
                        trigger="test",
                        sources=[],
                        summary={"fresh_until": None},
                    )
                    .returning(sync_runs.c.id)
                ).scalar_one()
                for at in committed
            ]
    finally:
        engine.dispose()
    first, second, third, uncommitted, tied = ids
    with Store.open(db_url) as store:
        store.upgrade()
        with store._engine.connect() as conn:
            numbers = dict(conn.execute(sa.select(sync_runs.c.id, sync_runs.c.commit_number)).all())
        old = max(first, second, third, tied)
        assert numbers == {
            first: old + 1,
            third: old + 2,
            tied: old + 3,
            second: old + 4,
            uncommitted: None,
        }
        assert store.generation() == old + 4
        last = store.last_commit()
        assert last is not None and last.id == second
        run = store.start_run(trigger="test", sources=[], now=T0)
        store.commit(run, [], result(assembled("pay")), now=T0, cause="t", based_on=old + 4)
        assert store.generation() == old + 5
        last = store.last_commit()
        assert last is not None and last.id == run
    command.downgrade(config, "0006_shared_revision_document")
    with Store.open(db_url) as store:
        assert store.schema_version() == {"0006_shared_revision_document"}
        store.upgrade()
        # Five committed runs, numbered above the highest committed id: past every
        # generation this database had before, on either side of the downgrade.
        assert store.generation() == run + 5 > old + 5


def test_every_migration_that_can_be_downgraded_is_and_upgrades_again(db_url: str) -> None:
    """With data stored, each step down runs (SQLite's batch moves included), and back up.

    Refused, as their migrations say: below 0004 on PostgreSQL (procrastinate's
    schema stays) and below 0002 anywhere (restore a backup).
    """
    config = Config(str(Path(trueup.store.__file__).parent / "alembic.ini"))
    config.cmd_opts = argparse.Namespace(x=[f"url={db_url}"])
    with Store.open(db_url) as store:
        store.upgrade()
        run = store.start_run(trigger="test", sources=[], now=T0)
        store.commit(run, [], result(assembled("pay")), now=T0, cause="t")
    steps = [s.revision for s in ScriptDirectory.from_config(config).walk_revisions()]
    postgresql = db_url.startswith("postgresql")
    lowest = "0004_serve" if postgresql else "0002_incremental"
    for below in steps[1 : steps.index(lowest) + 1]:
        command.downgrade(config, below)
    with pytest.raises(NotImplementedError, match="procrastinate" if postgresql else "backup"):
        command.downgrade(config, steps[steps.index(lowest) + 1])
    with Store.open(db_url) as store:
        store.upgrade()
        assert store.schema_version() == {SCHEMA_HEAD}
        assert [e.ref.name for e in store.entities()] == ["pay"]
