"""The schema: one Alembic migration, idempotent, matching the tables the store queries."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

import trueup.store
from trueup.errors import StoreError
from trueup.store import Store
from trueup.store.schema import metadata

from .builders import T0

TABLES = {
    "scopes",
    "snapshots",
    "observations",
    "entities",
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
    assert version == "0004_dashboard"


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


def test_the_shipped_alembic_ini_runs_the_migrations(db_url: str) -> None:
    """``alembic -c src/trueup/store/alembic.ini -x url=… upgrade head`` for manual runs."""
    config = Config(str(Path(trueup.store.__file__).parent / "alembic.ini"))
    config.cmd_opts = argparse.Namespace(x=[f"url={db_url}"])
    command.upgrade(config, "head")
    with Store.open(db_url) as store:
        assert store.runs() == []
