"""The demo world with five days of history, for the dashboard's tests and screenshots.

:func:`write_demo_history` writes the demo world (:func:`write_demo_world`) as
it was five days ago and syncs it once a day up to now, with the changes a
platform team sees in a week, each made where it happens in real life:

- day -4: the payments team rewords ``payments-api`` (a git commit, synced
  after a GitHub push webhook);
- day -3: a descriptor loses its description (``missing-field``: the team's
  score falls);
- day -2: the ``prod-us`` export comes back empty — a broken export job —
  so its removals are held (SPEC 5.4) and its last good data stays;
  ``account-web`` gets its description (the storefront's score rises);
- day -1: ``refunds-service`` gets a real owner (the ``dangling-ref`` goes),
  the lost description comes back, and ``payments-db`` is handed over to the
  payments team in git while Terraform still tags it as the platform team's
  (a ``conflict``: git wins, Terraform's value is shown as the candidate that lost);
- now: a last scheduled sync. ``prod-us`` has not been seen for over a day, so
  its status values are stale and shown as ``Unknown``.

The catalog source is given its GitHub address (``web:``), so every field
declared in git links to its file at the commit that declared it. Syncs run
through :func:`trueup.pipeline.sync` with a clock set to each day, into the
world's SQLite database. Called by the dashboard's browser tests and by
``docs/screenshots/make_screenshots.py``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trueup.config import load_config
from trueup.pipeline import sync
from trueup.store import Store
from trueup.world.cluster_export import write_list
from trueup.world.demo import DemoWorld, write_demo_world

WEB = "https://github.com/acme/catalog"
SHOWCASE = "payments-api"  # the entity whose history the story changes most
HELD_CLUSTER = "prod-us"  # the cluster whose export comes back empty
HANDED_OVER = "payments-db"  # git names a new owner; Terraform's tags still say the old one


@dataclass(frozen=True)
class DemoHistory:
    """The world, when its story ended, and what it is known to show."""

    world: DemoWorld
    database: str
    now: datetime
    showcase: str  # component name with several revisions
    emptied: str  # described in words
    fixed_owner: str  # component whose dangling owner was fixed on day -1
    disputed: str  # resource whose owner git and Terraform disagree on
    held_scope: str  # "clusters/prod-us"


def write_demo_history(
    root: Path, *, now: datetime | None = None, listen: str | None = None
) -> DemoHistory:
    """Write the demo world under ``root`` and give it five days of history.

    ``listen`` adds a ``server:`` section (:func:`add_server`) before the first
    sync, so the feed URLs in the entities match the server that will serve them.
    """
    end = (now or datetime.now(UTC)).replace(microsecond=0)
    start = end - timedelta(days=5)
    world = write_demo_world(root, now=start)
    config_text = world.config.read_text(encoding="utf-8")
    linked = config_text.replace(
        "    url: catalog\n    branch: main\n",
        f"    url: catalog\n    branch: main\n    web: {{host: github, base: {WEB}}}\n",
    )
    if linked == config_text:
        raise RuntimeError("the demo configuration changed: cannot give its catalog a web address")
    world.config.write_text(linked, encoding="utf-8")
    if listen is not None:
        add_server(world.config, listen)
    database = load_config(world.config).database
    story = _Story(world)

    story.day(start, "cli")
    story.day(
        end - timedelta(days=4),
        "webhook github acme/catalog delivery github:6f1c2d9e-3b0a-4c8e-9f51-2a7d0c4b8e10",
        edit=lambda: set_description(
            world, SHOWCASE, "Public payment API: authorises, captures and refunds card payments."
        ),
        message=f"{SHOWCASE}: it refunds too",
    )
    story.day(
        end - timedelta(days=3),
        "schedule",
        edit=lambda: set_description(world, "payments-worker", None),
        message="payments-worker: trim the descriptor",
    )
    story.day(
        end - timedelta(days=2),
        "schedule",
        edit=lambda: set_description(world, "account-web", "The shopper's account pages."),
        message="account-web: describe it",
        emptied=True,
    )
    story.day(
        end - timedelta(days=1),
        "schedule",
        edit=lambda: _hand_over(world),
        message=(
            "refunds-service and payments-db: owned by team-payments; "
            "payments-worker described again"
        ),
    )
    story.day(end - timedelta(minutes=30), "schedule")
    return DemoHistory(
        world=world,
        database=database,
        now=end,
        showcase=SHOWCASE,
        emptied=f"the {HELD_CLUSTER} export came back empty",
        fixed_owner="refunds-service",
        disputed=HANDED_OVER,
        held_scope=f"clusters/{HELD_CLUSTER}",
    )


class _Story:
    """Moves the world's clock a day at a time: edit, commit, export, sync."""

    def __init__(self, world: DemoWorld) -> None:
        self.world = world
        self.emptied = False

    def day(
        self,
        when: datetime,
        trigger: str,
        *,
        edit: Callable[[], object] | None = None,
        message: str = "",
        emptied: bool = False,
    ) -> None:
        if edit is not None:
            edit()
            self.world.commit(message, when=when - timedelta(minutes=10))
        self.emptied = self.emptied or emptied
        for export in self.world.exports:
            if export.stem == HELD_CLUSTER and self.emptied:
                if emptied:  # the day the export job broke: an empty List, written then
                    write_list(export, [], "185990001", indent=4)
                    _touch(export, when - timedelta(minutes=5))
                continue  # a broken export job writes nothing new
            _touch(export, when - timedelta(minutes=5))
        config = load_config(self.world.config)
        with Store.open(config.database) as store:
            store.upgrade()
            sync(config, store, now=lambda: when, trigger=trigger)


def _touch(path: Path, when: datetime) -> None:
    stamp = when.timestamp()
    os.utime(path, (stamp, stamp))


def _edit(world: DemoWorld, name: str, change: Callable[[str], str]) -> None:
    """Apply ``change`` to the one YAML document of the catalog that declares ``name``."""
    found = []
    for path in sorted(world.catalog.rglob("*.yaml")):
        documents = path.read_text(encoding="utf-8").split("\n---\n")
        for index, document in enumerate(documents):
            if re.search(rf"\n  name: {re.escape(name)}\n", "\n" + document):
                found.append((path, documents, index))
    if len(found) != 1:
        raise RuntimeError(f"the demo catalog has no single document declaring {name}")
    path, documents, index = found[0]
    documents[index] = change(documents[index])
    path.write_text("\n---\n".join(documents), encoding="utf-8")


def set_description(world: DemoWorld, name: str, description: str | None) -> None:
    """Set (or, with None, drop) an entity's ``metadata.description``."""

    def change(text: str) -> str:
        text = re.sub(r"\n  description: [^\n]*", "", text)
        if description is None:
            return text
        quoted = json.dumps(description)  # a JSON string is a YAML double-quoted scalar
        return text.replace(f"  name: {name}\n", f"  name: {name}\n  description: {quoted}\n")

    _edit(world, name, change)


def _set_owner(world: DemoWorld, name: str, owner: str) -> None:
    _edit(world, name, lambda text: re.sub(r"\n  owner: [^\n]*", f"\n  owner: {owner}", text))


def _hand_over(world: DemoWorld) -> None:
    """Day -1's commit: two owners fixed in git, a description restored."""
    _set_owner(world, "refunds-service", "team-payments")
    _set_owner(world, HANDED_OVER, "team-payments")
    set_description(
        world, "payments-worker", "Settles captured payments with the acquirer in the background."
    )


def add_server(config_path: Path, listen: str) -> None:
    """Give a ``trueup.yaml`` a ``server:`` section: ``listen``, and a read and an admin
    token taken from ``TRUEUP_READ_TOKEN`` and ``TRUEUP_ADMIN_TOKEN``."""
    with config_path.open("a", encoding="utf-8") as config:
        config.write(
            "\nserver:\n"
            f"  listen: {listen}\n"
            "  tokens:\n"
            "    - {name: reader, role: read, token: ${TRUEUP_READ_TOKEN}}\n"
            "    - {name: ops, role: admin, token: ${TRUEUP_ADMIN_TOKEN}}\n"
        )
