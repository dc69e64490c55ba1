"""An acknowledged refresh that fails on a busy database runs again (SQLite, one process).

``POST /api/v1/refresh`` (like a webhook) answers 202 once its job is durable;
the job's sync then meets SQLite's write lock held by another process past the
store's lock timeout, and fails. The shared queue retries such a refresh
(procrastinate's retry strategy); the local queue must too, or the change it
announced waits for the next periodic sync.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import sqlite_only
from tests.sources.git.conftest import CuttingProxy, WorkRepo, component, git
from tests.sources.git.conftest import git_daemon as served_by_git_daemon
from tests.web.harness import ADMIN, ADMIN_AUTH, serving
from trueup.config import parse_config
from trueup.model.ref import EntityRef
from trueup.pipeline import sync
from trueup.store import Store

SHIPPING = EntityRef("component", "default", "shipping")
daemon = served_by_git_daemon  # the git source tests' fixture: a git daemon on loopback


class GatedProxy(CuttingProxy):
    """Forwards TCP to ``upstream`` once ``gate`` is open; ``connected`` says a client came."""

    def __init__(self, upstream: int) -> None:
        self.connected = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        super().__init__(upstream, limit=1 << 40)

    def _pump(self, client: socket.socket) -> None:
        self.connected.set()
        self.gate.wait(30)
        super()._pump(client)


def _publish(work: WorkRepo, served: Path) -> None:
    bare = served / "catalog.git"
    if not bare.exists():
        git(served, "init", "-q", "--bare", "catalog.git")
    work.git("push", "-q", "--force", str(bare), "HEAD:refs/heads/main")


@sqlite_only
def test_a_refresh_that_failed_on_a_locked_database_runs_again(
    tmp_path: Path, db_url: str, store: Store, daemon: tuple[Path, int]
) -> None:
    served, port = daemon
    work = WorkRepo(tmp_path / "work")
    work.write("catalog-info.yaml", component("payments"))
    work.commit("first")
    _publish(work, served)
    proxy = GatedProxy(port)
    try:
        config = parse_config(
            json.dumps(
                {
                    "database": db_url,
                    "data_dir": str(tmp_path / "data"),
                    "sources": [
                        {
                            "id": "catalog",
                            "type": "git",
                            "url": f"git://127.0.0.1:{proxy.port}/catalog.git",
                            "interval": "1h",
                        }
                    ],
                    "server": {"tokens": [{"name": "ops", "role": "admin", "token": ADMIN}]},
                }
            ),
            "test.yaml",
            {},
        )
        sync(config, store, trigger="first")
        work.write("catalog-info.yaml", component("payments"), component("shipping"))
        work.commit("shipping")
        _publish(work, served)
        with Store.open(db_url, lock_timeout=1.0) as busy, serving(config, busy) as (base, _):
            proxy.gate.clear()
            proxy.connected.clear()
            answer = httpx.post(
                f"{base}/api/v1/refresh", json={"source": "catalog"}, headers=ADMIN_AUTH
            )
            assert answer.status_code == 202 and answer.json()["status"] == "queued"
            assert proxy.connected.wait(30), "the refresh never began its read"
            other = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
            other.execute("BEGIN IMMEDIATE")  # another process writes, past the lock timeout
            proxy.gate.set()
            deadline = time.monotonic() + 30
            while not [r for r in store.runs() if r.trigger.startswith("api refresh")]:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            time.sleep(3)  # the refresh's commit waits 1 s for the lock, then fails
            other.execute("ROLLBACK")
            other.close()
            deadline = time.monotonic() + 30
            while store.entity(SHIPPING) is None:
                assert time.monotonic() < deadline, (
                    f"the acknowledged refresh was dropped: jobs {store.operations().job_states()}"
                )
                time.sleep(0.2)
            while store.operations().job_states() != {"done": 1}:
                assert time.monotonic() < deadline, store.operations().job_states()
                time.sleep(0.1)
    finally:
        proxy.close()
