"""Reads come back in the same order on SQLite and on a PostgreSQL database whose
default collation is a language's (``en-US``), as many servers are set up: text sorts
bytewise, as SQLite and Python sort it, never by the locale's rules (which put
``a_b`` before ``A`` and ``B`` after ``a.d``)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.conftest import _unavailable, migrated
from trueup.model.ref import EntityRef
from trueup.store import Store
from trueup.store.pages import EntityFilter

from .builders import assembled, at, finding, observation, result, snapshot

TRICKY = ["a_b", "B", "a-c", "A", "a.d", "b9", "a10"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def locale_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated Store on SQLite, or on a fresh PostgreSQL database collated en-US."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'trueup.db'}"
    else:
        admin: Engine | str = request.getfixturevalue("postgres_admin")
        if isinstance(admin, str):
            _unavailable(admin)
            return
        name = f"trueup_icu_{secrets.token_hex(6)}"
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    f'CREATE DATABASE "{name}" TEMPLATE template0 '
                    "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
                )
            )
        request.addfinalizer(lambda: _drop(admin, name))
        url = admin.url.set(database=name).render_as_string(hide_password=False)
    with migrated(url) as opened:
        yield opened


def _drop(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _commit(store: Store) -> None:
    reads = [snapshot([], scope=scope) for scope in TRICKY]
    reads[0] = replace(
        reads[0], observations=tuple(observation(name, scope=TRICKY[0]) for name in TRICKY)
    )
    entities = [assembled(name.lower(), owner=f"team-{name}") for name in TRICKY]
    loose = tuple(finding(f"catalog:{name}.yaml") for name in TRICKY)
    run = store.start_run(trigger="test", sources=["catalog"], now=at(0))
    store.commit(run, reads, result(*entities, findings=loose), now=at(0), cause="sync")


def test_entity_pages_follow_ref_order(locale_store: Store) -> None:
    _commit(locale_store)
    seen: list[EntityRef] = []
    after: EntityRef | None = None
    while page := locale_store.pages().entities(EntityFilter(), after=after, limit=2):
        seen.extend(stored.ref for stored in page)
        after = page[-1].ref
    assert seen == sorted(assembled(name.lower()).ref for name in TRICKY)


def test_scopes_owners_findings_and_observations_sort_bytewise(locale_store: Store) -> None:
    _commit(locale_store)
    assert [h.scope for h in locale_store.scopes()] == sorted(TRICKY)
    owners = sorted(f"group:default/team-{name.lower()}" for name in TRICKY)
    assert locale_store.overview().owners() == owners
    assert locale_store.overview().owners(limit=3) == owners[:3]
    assert [f.subject for f in locale_store.findings()] == sorted(
        f"catalog:{name}.yaml" for name in TRICKY
    )
    stored = locale_store.snapshots()[("catalog", TRICKY[0])].observations
    assert [o.ref.name for o in stored] == sorted(name.lower() for name in TRICKY)
