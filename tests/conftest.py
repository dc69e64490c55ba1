"""Shared fixtures: a real database on each backend, and a Store upgraded on it.

:func:`migrated` opens a Store on any URL as the ``store`` fixture does; :func:`run`
runs the command line in process and returns what it printed.

``db_url`` runs a test twice: on SQLite (a file in the test's tmp_path) and on
PostgreSQL (a fresh database per test, dropped afterwards). PostgreSQL comes from
``TRUEUP_TEST_POSTGRES_URL`` (for example
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); without it, or with the
server down, those tests are skipped — unless ``TRUEUP_REQUIRE_POSTGRES=1`` (CI),
which makes them fail instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from trueup.cli import main
from trueup.redaction import KNOWN_SECRETS
from trueup.store import Store

POSTGRES_ENV = "TRUEUP_TEST_POSTGRES_URL"
REQUIRE_ENV = "TRUEUP_REQUIRE_POSTGRES"


def _unavailable(reason: str) -> None:
    """Skip, or fail when CI requires PostgreSQL."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"PostgreSQL is required ({REQUIRE_ENV}=1) but {reason}", pytrace=False)
    pytest.skip(
        f"PostgreSQL tests skipped: {reason}; set {POSTGRES_ENV}="
        "postgresql+psycopg://USER@HOST:PORT/DB to run them"
    )


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine | str]:
    """An AUTOCOMMIT engine on the PostgreSQL server, or why there is none."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        yield f"{POSTGRES_ENV} is not set"
        return
    engine = sa.create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        poolclass=sa.NullPool,
        connect_args={"connect_timeout": 5},
    )
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as error:
        engine.dispose()
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        yield f"the server at {sa.make_url(url).render_as_string()} is unreachable ({reason})"
        return
    yield engine
    engine.dispose()


_POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)

# For a test that is about one backend only (replicas share PostgreSQL; SQLite's file
# lock): ``db_url`` and the fixtures built on it take just that backend.
postgres_only = pytest.mark.parametrize("db_url", [_POSTGRES], indirect=True)
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture(params=["sqlite", _POSTGRES])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database: SQLite in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'trueup.db'}"
        return
    admin: Engine | str = request.getfixturevalue("postgres_admin")
    if isinstance(admin, str):
        _unavailable(admin)
        return
    name = f"trueup_t_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def migrated(url: str) -> Iterator[Store]:
    """A Store on ``url`` with the schema migrated to head, closed after."""
    opened = Store.open(url)
    try:
        opened.upgrade()
        yield opened
    finally:
        opened.close()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A Store on ``db_url`` with the schema migrated to head."""
    with migrated(db_url) as opened:
        yield opened


@pytest.fixture(autouse=True)
def _no_known_secrets() -> Iterator[None]:
    """Each test starts with an empty redaction registry (it is process-wide)."""
    KNOWN_SECRETS.clear()
    yield
    KNOWN_SECRETS.clear()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``trueup ARGV`` in process: its exit code, stdout and stderr."""
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
