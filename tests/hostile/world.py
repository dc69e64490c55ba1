"""Small hostile worlds on disk for the tests of this folder: a config, a folder, a database."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from trueup.cli import main

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


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``trueup ARGV`` in process: its exit code, stdout and stderr."""
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
