"""SQLite: a sync's commit appends to the write-ahead log; the copy into the database
file runs on a thread of its own.

In WAL mode every page a transaction writes goes to the ``-wal`` file first, and
the committing connection then copies the log into the database file (the
*checkpoint*, run by SQLite once the log is over ``wal_autocheckpoint`` pages).
After a cold sync of 100,000 entities that copy is about 1.5 GB and five
seconds, spent in SQLite's C code, in which the sync waits for nothing it needs:
its commit is already durable in the log and visible to every reader. So around
a sync's commit :meth:`Checkpoints.deferred` turns the automatic checkpoint off
for that connection, and afterwards a thread runs a ``PASSIVE`` checkpoint (it
never waits for readers or writers) while the sync goes on to its sinks: SQLite
releases the GIL while it copies.

Nothing is at risk meanwhile: a reader reads committed pages from the log, a
writer appends to it, a crash leaves a log that the next connection replays, and
every other write still checkpoints as usual. :meth:`Checkpoints.wait` lets the
thread finish before the engine closes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

AUTOCHECKPOINT = 1000  # pages: SQLite's default, restored after a deferred commit


class Checkpoints:
    """The background checkpoints of one engine (SQLite files only; a no-op elsewhere)."""

    def __init__(self, engine: Engine) -> None:
        url = engine.url
        self._engine = engine
        self._enabled = url.get_backend_name() == "sqlite" and url.database not in (
            None,
            "",
            ":memory:",
        )
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False  # a commit landed while a checkpoint ran: run one more
        self.completed = 0  # background checkpoints run (for tests and logs)

    @contextmanager
    def deferred(self, conn: Connection) -> Iterator[None]:
        """Around one write transaction on ``conn``: its commit does not checkpoint;
        when the block succeeds a checkpoint starts in the background."""
        if not self._enabled:
            yield
            return
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.execute("PRAGMA wal_autocheckpoint = 0")
        try:
            yield
        finally:
            raw.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT}")
        self._start()

    def wait(self) -> None:
        """Until no background checkpoint runs."""
        while True:
            with self._lock:
                thread = self._thread
            if thread is None:
                return
            thread.join()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                self._again = True
                return
            self._thread = threading.Thread(
                target=self._run, name="trueup-wal-checkpoint", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self._checkpoint()
                self.completed += 1
            except (sa.exc.SQLAlchemyError, sqlite3.Error, OSError) as error:
                # Nothing is lost: the next write's automatic checkpoint does it instead.
                log.info("background WAL checkpoint did not run: %s", type(error).__name__)
            with self._lock:
                if not self._again:
                    self._thread = None
                    return
                self._again = False

    def _checkpoint(self) -> None:
        # A connection of its own, outside the engine's pool: the pool serves the work.
        dialect = self._engine.dialect
        args, kwargs = dialect.create_connect_args(self._engine.url)
        with closing(dialect.loaded_dbapi.connect(*args, **kwargs)) as raw:
            raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
