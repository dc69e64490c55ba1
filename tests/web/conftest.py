"""Fixtures for the server tests: a synced world and a running server on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.harness import World, serving
from trueup.store import Store
from trueup.web.serve import Server


@pytest.fixture
def world(tmp_path: Path, db_url: str, store: Store) -> World:
    built = World(tmp_path, db_url)
    built.sync(store)
    return built


@pytest.fixture
def server(world: World, store: Store) -> Iterator[tuple[str, Server]]:
    with serving(world.config, store) as running:
        yield running


@pytest.fixture
def base(server: tuple[str, Server]) -> str:
    return server[0]
