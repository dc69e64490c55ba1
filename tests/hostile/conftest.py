"""Fixtures of the hostile-input tests.

- ``world``: :class:`tests.hostile.world.World` on ``db_url`` (SQLite and PostgreSQL).
- ``fifo``: FIFOs a writer thread feeds, so that a reader never blocks for ever.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.hostile.world import World

MakeFifo = Callable[..., None]  # (path, feed="kind: Component\n")


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> World:
    return World(tmp_path, db_url)


@pytest.fixture
def fifo() -> Iterator[MakeFifo]:
    """Make FIFOs that a writer thread feeds (``feed``) if anyone opens them for reading.

    A reader that opens one gets text instead of blocking for ever, so a
    regression fails the test instead of hanging it; at teardown the writers
    are released by a non-blocking open of each FIFO.
    """
    made: list[tuple[Path, threading.Thread]] = []

    def write(path: Path, feed: str) -> None:
        with path.open("w") as handle:  # blocks until a reader opens it
            handle.write(feed)

    def make(path: Path, feed: str = "kind: Component\n") -> None:
        os.mkfifo(path)
        thread = threading.Thread(target=write, args=(path, feed), daemon=True)
        thread.start()
        made.append((path, thread))

    yield make
    for path, thread in made:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        thread.join(timeout=5)
        os.close(fd)
