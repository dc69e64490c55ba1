"""Opening a store: backend settings, and errors that never leak the password."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from trueup.errors import StoreError
from trueup.store import Store

from .builders import T0


def test_sqlite_is_tuned_for_one_writer_and_many_readers(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'x.db'}") as store, store._engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 5000,
        "synchronous": 1,
    }


def test_postgres_pings_pooled_connections(db_url: str) -> None:
    with Store.open(db_url) as store:
        assert store._engine.pool._pre_ping is (store._engine.dialect.name == "postgresql")


def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    url = "postgresql+psycopg://trueup:s3cr3t-pw@127.0.0.1:1/trueup?connect_timeout=2"
    with pytest.raises(StoreError) as caught:
        Store.open(url)
    assert "s3cr3t-pw" not in str(caught.value)
    assert "127.0.0.1:1/trueup" in str(caught.value)
    assert isinstance(caught.value.__cause__, sa.exc.OperationalError)


def test_a_malformed_url_is_not_echoed() -> None:
    with pytest.raises(StoreError, match="cannot be parsed") as caught:
        Store.open("not a url:s3cr3t-pw")
    assert "s3cr3t-pw" not in str(caught.value)


def test_an_unknown_driver_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot use database"):
        Store.open("nosuchdb://user:pw@host/db")


def test_a_missing_schema_is_a_store_error(db_url: str) -> None:
    with Store.open(db_url) as store, pytest.raises(StoreError, match="starting a sync run"):
        store.start_run(trigger="t", sources=[], now=T0)


def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="naive datetime"):
        store.start_run(trigger="t", sources=[], now=T0.replace(tzinfo=None))


def test_a_sqlite_file_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="connecting failed"):
        Store.open(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")
