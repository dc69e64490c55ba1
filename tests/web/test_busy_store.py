"""The single-process worker outlives a database that is busy past its timeout.

Another process holding SQLite's write lock longer than the busy timeout (5 s)
makes every claim fail meanwhile; once the lock is gone, a refresh still runs.
"""

from __future__ import annotations

import sqlite3
import time

import httpx

from tests.conftest import sqlite_only
from tests.web.harness import ADMIN_AUTH, World, serving
from trueup.store import Store


@sqlite_only
def test_jobs_run_again_once_a_long_write_lock_is_released(
    world: World, store: Store, db_url: str
) -> None:
    path = db_url.removeprefix("sqlite:///")
    with serving(world.config, store) as (base, _):
        time.sleep(1.5)  # the start-up ticks are done
        other = sqlite3.connect(path, timeout=10, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        time.sleep(6.5)  # every claim meanwhile fails after the 5 s busy timeout
        other.execute("ROLLBACK")
        other.close()
        answer = httpx.post(
            f"{base}/api/v1/refresh", json={"source": "other"}, headers=ADMIN_AUTH, timeout=30
        )
        assert answer.status_code == 202
        deadline = time.monotonic() + 30
        while not [
            r for r in store.runs() if r.trigger.startswith("api refresh") and r.finished_at
        ]:
            assert time.monotonic() < deadline, "the worker stopped taking jobs"
            time.sleep(0.1)
