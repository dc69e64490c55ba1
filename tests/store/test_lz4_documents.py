"""Migration 0011: on PostgreSQL, documents, feed texts and payloads are compressed with lz4."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import trueup.store
from tests.conftest import postgres_only
from trueup.store import Store

from .builders import T0, assembled, result

# SQLite stores values as they are: there is no compression to set there.
pytestmark = postgres_only

# The columns whose values outgrow TOAST's threshold (about 2 kB): an entity's stored
# document is about 3.4 kB; a large entity's feed texts, a large object's payload more.
LARGE = {
    ("entities", "document"),
    ("entities", "feed_yaml"),
    ("entities", "feed_json"),
    ("revisions", "document"),
    ("observations", "payload"),
}


def _compression(engine: sa.Engine) -> dict[tuple[str, str], str]:
    """Each large column's compression method: 'l' (lz4), 'p' (pglz) or '' (the default)."""
    query = sa.text(
        "SELECT c.relname, a.attname, a.attcompression FROM pg_attribute a"
        " JOIN pg_class c ON c.oid = a.attrelid"
        " WHERE c.relname = :table AND a.attname = :column"
    )
    with engine.connect() as conn:
        return {
            (table, column): conn.execute(query, {"table": table, "column": column}).one()[2]
            for table, column in sorted(LARGE)
        }


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(db_url)
    yield engine
    engine.dispose()


def test_the_large_columns_are_compressed_with_lz4(db_url: str, engine: sa.Engine) -> None:
    with Store.open(db_url) as store:
        store.upgrade()
    assert _compression(engine) == dict.fromkeys(LARGE, "l")


def test_a_stored_document_is_written_with_lz4(db_url: str, engine: sa.Engine) -> None:
    # Above TOAST's threshold (about 2 kB), as a real entity's document is.
    long = " ".join(f"step {n} of the payments flow" for n in range(200))
    with Store.open(db_url) as store:
        store.upgrade()
        run = store.start_run(trigger="test", sources=[], now=T0)
        store.commit(
            run, [], result(assembled("pay", extra={"description": long})), now=T0, cause="t"
        )
        [stored] = store.revisions(assembled("pay").ref)
        assert stored.assembled is not None
        assert stored.assembled.entity["spec"]["description"] == long
    with engine.connect() as conn:
        method = conn.execute(
            sa.text("SELECT pg_column_compression(document) FROM entities")
        ).scalar_one()
    assert method == "lz4"


def test_a_downgrade_sets_the_default_again(db_url: str, engine: sa.Engine) -> None:
    config = Config(str(Path(trueup.store.__file__).parent / "alembic.ini"))
    config.cmd_opts = argparse.Namespace(x=[f"url={db_url}"])
    command.upgrade(config, "0011_lz4_documents")
    command.downgrade(config, "0010_covering_indexes")
    assert _compression(engine) == dict.fromkeys(LARGE, "")
    command.upgrade(config, "0011_lz4_documents")
    assert _compression(engine) == dict.fromkeys(LARGE, "l")
