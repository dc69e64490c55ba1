"""Small hostile worlds on disk for the tests of this folder: a config, a folder, a database.

- :class:`FileWorld` (:func:`file_world`): a ``file`` source over a SQLite file,
  driven through the CLI (``tests.conftest.run``).
- :class:`World` (the ``world`` fixture): a catalog folder and a cluster export
  with one mapping, synced in process on SQLite and PostgreSQL; :func:`component`
  and :func:`app` write what they read. :func:`terraform_sync` syncs one state
  (:func:`terraform_state`) alone.
- :func:`storable`: that findings can be stored and shown (UTF-8, no lone surrogate).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.sources.terraform.conftest import LINEAGE, two_databases
from trueup.config import Config, parse_config
from trueup.model.finding import Finding
from trueup.model.ref import EntityRef
from trueup.pipeline import SyncOutcome, sync
from trueup.store import Store

COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
  description: {description}
spec:
  type: service
  owner: {owner}
  lifecycle: production
"""


@dataclass
class FileWorld:
    """A ``file`` source over ``catalog/`` with a SQLite database, written to ``root``."""

    root: Path

    @property
    def catalog(self) -> Path:
        return self.root / "catalog"

    @property
    def config(self) -> Path:
        return self.root / "trueup.yaml"

    @property
    def database(self) -> Path:
        return self.root / "trueup.db"

    def write(self, relative: str, text: str) -> Path:
        path = self.catalog / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def component(
        self, relative: str, name: str, *, description: str = "d", owner: str = "x"
    ) -> Path:
        return self.write(
            relative, COMPONENT.format(name=name, description=description, owner=owner)
        )


def file_world(root: Path, extra_sources: str = "") -> FileWorld:
    world = FileWorld(root)
    world.catalog.mkdir(parents=True, exist_ok=True)
    world.config.write_text(
        f"database: sqlite:///{world.database}\n"
        "sources:\n"
        f"  - {{id: cat, type: file, path: {world.catalog}}}\n" + extra_sources,
        encoding="utf-8",
    )
    return world


T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)

BASE = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: []}
"""


def component(name: str, *, owner: str = "team-a", description: str = '"The service"') -> str:
    """A Component; ``owner`` and ``description`` are YAML scalars as written."""
    return (
        "apiVersion: backstage.io/v1alpha1\n"
        "kind: Component\n"
        "metadata:\n"
        f"  name: {name}\n"
        f"  description: {description}\n"
        "spec:\n"
        "  type: service\n"
        "  lifecycle: production\n"
        f"  owner: {owner}\n"
    )


class World:
    """A catalog folder and a cluster export (with one mapping) over a database."""

    def __init__(self, root: Path, db_url: str) -> None:
        self.catalog = root / "catalog"
        self.catalog.mkdir()
        (self.catalog / "base.yaml").write_text(BASE)
        self.exports = root / "exports"
        self.exports.mkdir()
        self.data = root / "data"
        self.now = T0
        self.db_url = db_url

    def write(self, name: str, text: str) -> None:
        (self.catalog / name).write_text(text, encoding="utf-8")

    def export(self, *items: dict[str, Any]) -> None:
        path = self.exports / "prod.json"
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": list(items)}))
        stamp = self.now.timestamp()
        os.utime(path, (stamp, stamp))

    def config(self) -> Config:
        text = json.dumps(
            {
                "database": self.db_url,
                "sources": [
                    {"id": "catalog", "type": "file", "path": str(self.catalog)},
                    {
                        "id": "clusters",
                        "type": "kubernetes",
                        "snapshot": str(self.exports / "*.json"),
                        "mappings": [
                            {
                                "name": "apps",
                                "apiVersion": "example.com/v1",
                                "kind": "App",
                                "ref": "metadata.name",
                                "fields": {
                                    "metadata.description": (
                                        'metadata.annotations."example.com/about"'
                                    )
                                },
                                "status": {"app-phase": "status.phase"},
                            }
                        ],
                    },
                ],
            }
        )
        return parse_config(text, "test.yaml", {})

    def sync(self, store: Store) -> SyncOutcome:
        clock: Callable[[], datetime] = lambda: self.now  # noqa: E731
        outcome = sync(self.config(), store, now=clock, data_dir=self.data)
        self.now += timedelta(minutes=1)
        return outcome


def app(name: str, about: str, phase: str = "Running") -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "App",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "resourceVersion": "7",
            "annotations": {"example.com/about": about},
        },
        "status": {"phase": phase},
    }


def ref(name: str) -> EntityRef:
    return EntityRef.of("component", None, name)


def owner_of(store: Store, name: str) -> object:
    stored = store.entity(ref(name))
    assert stored is not None and not stored.removed
    return stored.assembled.entity["spec"]["owner"]


def terraform_state(*, engine: str = "postgres", lineage: str = LINEAGE) -> str:
    return json.dumps(two_databases(1, engine, lineage=lineage))


def terraform_sync(tmp_path: Path, db_url: str, store: Store, state: str) -> SyncOutcome:
    (tmp_path / "prod.tfstate").write_text(state)
    text = json.dumps(
        {
            "database": db_url,
            "sources": [
                {"id": "infra", "type": "terraform", "state": str(tmp_path / "prod.tfstate")}
            ],
        }
    )
    return sync(parse_config(text, "test.yaml", {}), store, now=lambda: T0, data_dir=tmp_path)


def storable(findings: Iterable[Finding]) -> None:
    """Each finding encodes as UTF-8: no lone surrogate is left in it."""
    for f in findings:
        json.dumps(f.to_json(), ensure_ascii=False).encode()
