"""Fixtures of the Backstage compatibility tests: the harness, and trueup's export of the demo.

The harness is never optional: without node or its npm packages every test here
fails with a message saying that ``make test`` installs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.backstage.harness import HarnessMissingError, require_harness
from trueup.cli import main
from trueup.world import DemoWorld, write_demo_world


@pytest.fixture(scope="session", autouse=True)
def harness() -> None:
    try:
        require_harness()
    except HarnessMissingError as missing:
        pytest.fail(str(missing), pytrace=False)


@dataclass(frozen=True)
class Export:
    """One ``trueup export`` written to a file, and the documents it holds."""

    path: Path
    documents: tuple[dict[str, Any], ...]

    @property
    def refs(self) -> frozenset[str]:
        """Each document's ref as Backstage writes it (lower case, namespace default)."""
        refs = set()
        for document in self.documents:
            metadata = document["metadata"]
            namespace = metadata.get("namespace", "default")
            refs.add(f"{document['kind']}:{namespace}/{metadata['name']}".lower())
        return frozenset(refs)


def export_catalog(config: Path, out: Path, *extra: str) -> Export:
    """``trueup export -o out`` of an already synced configuration."""
    assert main(["export", "-c", str(config), "-o", str(out), *extra]) == 0
    text = out.read_text(encoding="utf-8")
    if out.suffix == ".json":
        documents = yaml.safe_load(text)["items"]
    else:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    return Export(out, tuple(documents))


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoWorld:
    world = write_demo_world(tmp_path_factory.mktemp("demo"), now=datetime.now(UTC))
    assert main(["sync", "-c", str(world.config)]) == 0
    return world


@pytest.fixture(scope="session")
def demo_export(demo: DemoWorld) -> Export:
    return export_catalog(demo.config, demo.root / "export.yaml")
