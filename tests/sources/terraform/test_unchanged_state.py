"""A Terraform state read again unchanged changes nothing stored, and still counts as current.

Two syncs of the same state (same lineage, serial and content) must leave every
entity document, feed text, freshness schedule and revision as the first one
wrote them (SPEC 1: a revision only on change; SPEC 8: an unchanged scope costs
no assembly). Freshness still follows SPEC 5.3: a state that is read again
successfully stays current however long it goes unchanged, and the status of a
state that can no longer be read turns Unknown ``max_age`` after the time its
observations carry, which a read renews once it is older than ``max_age / 2``: never
later than ``max_age`` after the last successful read. On SQLite and PostgreSQL,
through the real pipeline.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.sources.terraform.conftest import NOW, config, fixture_bytes
from trueup import pipeline
from trueup.config import Config
from trueup.model.assembled import UNKNOWN
from trueup.sources.terraform import TerraformSource
from trueup.store import Store
from trueup.store.schema import entities, observations, revisions

MAX_AGE = timedelta(hours=1)
STATUS = "terraform-status"
SEEN = {"Ready", "Tainted"}  # the statuses of the fixture's instances (one is tainted)


class World:
    """One local state file, read by a terraform source with ``max_age: 1h``."""

    def __init__(self, tmp_path: Path, store: Store, db_url: str) -> None:
        self.path = tmp_path / "states" / "payments.tfstate"
        self.path.parent.mkdir()
        self.path.write_bytes(fixture_bytes("v4-aws.tfstate"))
        self.data_dir = tmp_path / ".trueup"
        self.configure(max_age="1h")
        self.store = store
        self.engine = sa.create_engine(db_url, poolclass=sa.NullPool)

    def configure(self, **keys: Any) -> None:
        """The source's configuration from now on: its ``state`` and these keys."""
        self.settings = config(f"{self.path.parent}/*.tfstate", **keys)
        self.config = Config(sources=[self.settings], data_dir=str(self.data_dir))

    def sync(self, at: datetime, *, from_scratch: bool = False) -> pipeline.SyncOutcome:
        return pipeline.sync(
            self.config,
            self.store,
            now=lambda: at,
            sources=[TerraformSource(self.settings)],
            from_scratch=from_scratch,
        )

    def refresh(self, at: datetime) -> None:
        """What serving does before it answers: status turned stale is shown Unknown."""
        pipeline.refresh_freshness(self.config, self.store, now=lambda: at)

    def stored(self) -> dict[str, Any]:
        """Every stored entity row, the revisions and the observation rows, as written."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(entities).order_by(entities.c.name)).mappings()
            written = {row["name"]: dict(row) for row in rows}
            history = conn.execute(sa.select(revisions).order_by(revisions.c.id)).mappings()
            observed = conn.execute(sa.select(observations).order_by(observations.c.id))
            return {
                "entities": written,
                "revisions": [dict(row) for row in history],
                "observations": [tuple(row) for row in observed],
            }

    def statuses(self) -> set[str]:
        """The shown terraform status of every entity of the state."""
        return {
            place.value
            for entity in self.store.entities()
            for place in entity.assembled.places
            if place.key == STATUS
        }


def served(stored: dict[str, Any]) -> dict[str, Any]:
    """The stored rows without the stored documents (with their provenance), as served."""
    internal = {"document", "document_hash", "refreshed_at"}
    return {
        **stored,
        "entities": {
            name: {k: v for k, v in row.items() if k not in internal}
            for name, row in stored["entities"].items()
        },
        # a revision gets a copy of the document it shared once that is rewritten
        "revisions": [
            {k: v for k, v in row.items() if k != "document"} for row in stored["revisions"]
        ],
    }


@pytest.fixture
def world(tmp_path: Path, store: Store, db_url: str) -> Iterator[World]:
    made = World(tmp_path, store, db_url)
    yield made
    made.engine.dispose()


@pytest.mark.parametrize("from_scratch", [False, True], ids=["incremental", "from-scratch"])
def test_an_unchanged_state_synced_again_changes_no_entity_feed_or_revision(
    world: World, from_scratch: bool
) -> None:
    assert world.sync(NOW, from_scratch=from_scratch).exit_code == 0
    first = world.stored()
    assert len(first["entities"]) == 6 and len(first["revisions"]) == 6
    feed = [row.yaml for row in world.store.feed_rows()]

    again = world.sync(NOW + timedelta(minutes=10), from_scratch=from_scratch)
    assert again.exit_code == 0
    if from_scratch:
        # The reference path assembles every entity again, and the assembler dates the
        # envelope it gives a discovered entity (apiVersion, kind) with the assembly's
        # time: its stored provenance moves, nothing served or recorded does.
        assert served(world.stored()) == served(first)
    else:
        assert world.stored() == first  # documents, feed texts, expiry, revisions, observations
        assert again.assembled == 0  # nothing to assemble: the state did not change
    assert [row.yaml for row in world.store.feed_rows()] == feed
    assert all('trueup.io/observed-at: "2025-06-01T12:00:00Z"' in text for text in feed)
    assert world.statuses() == SEEN


def test_an_unchanged_state_read_on_schedule_stays_current_past_max_age(world: World) -> None:
    """Read every 20 minutes for five hours, the state is never shown stale."""
    assert world.sync(NOW).exit_code == 0
    renewed: list[int] = []
    before = world.stored()["entities"]
    for minutes in range(20, 5 * 60 + 1, 20):
        at = NOW + timedelta(minutes=minutes)
        assert world.sync(at).exit_code == 0
        assert world.statuses() == SEEN, at
        world.refresh(at + timedelta(minutes=19))  # just before the next read
        assert world.statuses() == SEEN, at
        now = world.stored()
        assert len(now["revisions"]) == 6  # re-read, never changed
        if now["entities"] != before:
            renewed.append(minutes)
        before = now["entities"]
    # the documents move only when their time is renewed (at max_age / 2), not on every read
    assert renewed == [40, 80, 120, 160, 200, 240, 280]


@pytest.mark.parametrize(
    ("reads", "renewed"),
    [
        ([0, 20], 0),  # read again at 20 min: its time (0) is younger than max_age / 2, kept
        ([0, 20, 40], 40),  # at 40 min it is not: that read renews it
    ],
)
def test_a_state_that_fails_to_read_turns_stale_max_age_after_its_time(
    world: World, reads: list[int], renewed: int
) -> None:
    """Stale once its data's time is older than max_age: never later than max_age after
    the last successful read, never sooner than max_age / 2 after it."""
    for minutes in reads:
        assert world.sync(NOW + timedelta(minutes=minutes)).exit_code == 0
    stamped = NOW + timedelta(minutes=renewed)
    (observed,) = {e.assembled.observed_at for e in world.store.entities()}
    assert observed == stamped
    world.path.write_bytes(fixture_bytes("corrupt.tfstate"))
    failed = NOW + timedelta(minutes=reads[-1] + 5)
    assert world.sync(failed).exit_code == 2  # its last good data is kept
    assert world.statuses() == SEEN
    world.refresh(stamped + MAX_AGE - timedelta(minutes=1))
    assert world.statuses() == SEEN
    world.refresh(stamped + MAX_AGE + timedelta(minutes=1))
    assert world.statuses() == {UNKNOWN}
    assert {f.code for f in world.store.findings(codes=["stale"])} == {"stale"}


def test_an_unchanged_state_read_with_other_settings_changes_its_entities(world: World) -> None:
    """What is kept is what the read would give, not only the same state."""
    world.sync(NOW)
    world.configure(max_age="1h", owner="group:default/platform")
    assert world.sync(NOW + timedelta(minutes=10)).assembled == 6
    owners = {e.assembled.entity["spec"].get("owner") for e in world.store.entities()}
    assert owners == {"group:default/platform"}
    first = world.stored()
    world.sync(NOW + timedelta(minutes=20))
    assert world.stored() == first  # and that is kept in turn


def test_without_max_age_an_unchanged_state_keeps_its_first_time(world: World) -> None:
    world.configure(max_age=None)
    world.sync(NOW)
    first = world.stored()
    assert world.sync(NOW + timedelta(days=30)).assembled == 0
    assert world.stored() == first
    (observed,) = {e.assembled.observed_at for e in world.store.entities()}
    assert observed == NOW
