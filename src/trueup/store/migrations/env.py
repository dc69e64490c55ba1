"""Alembic environment for trueup's schema.

Run by :meth:`trueup.store.store.Store.upgrade`, which hands over its own
connection (``config.attributes["connection"]``), or by the ``alembic`` command
line with ``-x url=DATABASE_URL`` (or ``sqlalchemy.url``) for a manual run.
Migrations run in one transaction; on PostgreSQL that transaction holds the
store's advisory lock, so replicas starting together do not migrate twice.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from trueup.store.engine import WRITE, create_engine, parse_url, serialise_writers
from trueup.store.schema import metadata


def _run(connection: Connection) -> None:
    connection.execution_options(**{WRITE: True})
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # SQLite alters a table by copying it into a new one and dropping the old
        # (Alembic's batch mode), which its foreign keys refuse for a table others
        # refer to: off for the migration (the pragma is ignored inside a
        # transaction), checked before the commit, on again after.
        _foreign_keys(connection, "OFF")
    try:
        with connection.begin():
            serialise_writers(connection)
            context.configure(connection=connection, target_metadata=metadata)
            with context.begin_transaction():
                context.run_migrations()
            if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").all()):
                raise RuntimeError(f"the migration broke {len(broken)} foreign keys: {broken[:3]}")
    finally:
        if sqlite:
            _foreign_keys(connection, "ON")


def _foreign_keys(connection: Connection, state: str) -> None:
    """Set SQLite's foreign key enforcement on the driver's connection, outside any transaction."""
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA foreign_keys = {state}")


def run_migrations_online() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("pass the database URL: alembic -x url=DATABASE_URL upgrade head")
    engine = create_engine(parse_url(url))
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("trueup's migrations run online only (they need a database connection)")
run_migrations_online()
