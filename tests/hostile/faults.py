"""Faults injected into a real ``trueup`` process, for the crash-safety tests.

Run as a child process (``python -c "import tests.hostile.faults as f; f.run()" FAULT ...``)
so that a ``kill -9`` kills only the child. The faults are injected through
SQLAlchemy's public event API on every engine of the process, at the database
boundary; nothing of trueup is patched:

- ``kill-in-commit CONFIG``: ``trueup sync -c CONFIG``, SIGKILLed by itself at
  the first ``INSERT INTO revisions`` — inside the commit transaction, after
  the snapshot rows of that transaction were written;
- ``disk-full CONFIG PAGES``: ``trueup sync -c CONFIG`` with SQLite's
  ``max_page_count`` set to the file's current size plus ``PAGES`` pages, as a
  disk that fills up would (the write fails with ``database or disk is full``);
- ``hold-run URL``: start a sync run and then wait to be killed (a live owner).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[2]


def child(
    *argv: str, wait: bool = True
) -> subprocess.CompletedProcess[str] | subprocess.Popen[str]:
    """Run ``FAULT ARGS`` in a child Python; wait for it unless ``wait`` is False."""
    command = [sys.executable, "-c", "import tests.hostile.faults as f; f.run()", *argv]
    if not wait:
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def run() -> None:
    fault, *args = sys.argv[1:]
    if fault == "kill-in-commit":
        _kill_at("INSERT INTO revisions")
        _sync(args[0])
    elif fault == "disk-full":
        _fill_disk(int(args[1]))
        _sync(args[0])
    elif fault == "hold-run":
        _hold_run(args[0])
    else:
        raise SystemExit(f"unknown fault {fault!r}")


def _sync(config: str) -> None:
    from trueup.cli import main

    raise SystemExit(main(["sync", "-c", config]))


def _kill_at(prefix: str) -> None:
    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().startswith(prefix):
            os.kill(os.getpid(), signal.SIGKILL)

    sa.event.listen(Engine, "before_cursor_execute", before)


def _fill_disk(pages: int) -> None:
    def connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        used = cursor.execute("PRAGMA page_count").fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count = {used + pages}")
        cursor.close()

    sa.event.listen(Engine, "connect", connect)


def _hold_run(url: str) -> None:
    from trueup.store import Store

    store = Store.open(url)
    run_id = store.start_run(trigger="test", sources=[], now=datetime.now(UTC))
    print(run_id, flush=True)
    time.sleep(300)  # until the test kills it
