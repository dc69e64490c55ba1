"""Each watched cluster is held by exactly one replica, and taken over when it dies.

The demo's clusters run as loopback Kubernetes API servers in this process; two
``trueup serve --role worker`` replicas share one PostgreSQL database. A sync
after a watch event is named after the replica that holds the cluster
(``watch on <host>-<pid>``), so the test knows which one to kill.
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from tests.conftest import postgres_only
from tests.web.harness import ServeProcess, free_port
from trueup.config import load_config
from trueup.pipeline import sync
from trueup.store import Store
from trueup.world import write_demo_world
from trueup.world.live import export_items, start_demo_clusters, write_live_config


def _watch_jobs(db_url: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT lock, status FROM procrastinate_jobs "
                    "WHERE task_name = 'trueup.watch' AND status IN ('todo', 'doing')"
                )
            )
            return sorted((str(lock), str(status)) for lock, status in rows)
    finally:
        engine.dispose()


def _holder(store: Store, since: int) -> str | None:
    """The replica that synced prod-eu from its watch after run ``since``."""
    for run in store.runs(limit=200):
        if run.id > since and run.trigger.startswith("watch on "):
            return run.trigger.removeprefix("watch on ")
    return None


def _touch(server: Any, app: dict[str, Any], health: str) -> None:
    changed = copy.deepcopy(app)
    changed["status"]["health"]["status"] = health
    changed["metadata"].pop("resourceVersion", None)
    server.apply(changed)


@postgres_only
def test_each_cluster_is_held_by_one_replica_and_taken_over(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    world = write_demo_world(tmp_path / "demo", now=datetime.now(UTC))
    with start_demo_clusters(world) as clusters:
        live = write_live_config(world, clusters)
        data = yaml.safe_load(live.read_text())
        data["database"] = db_url
        data["sources"] = [s for s in data["sources"] if s["id"] == "clusters"]
        data["merge"] = {"precedence": {"*": ["clusters"]}}
        data.pop("sinks", None)
        live.write_text(yaml.safe_dump(data))
        sync(load_config(live), store, trigger="test")
        replicas = {}
        for i in range(2):
            replica = ServeProcess(live, free_port(), role="worker", log=tmp_path / f"r{i}.log")
            replica.wait_ready()
            replicas[replica.process.pid] = replica
        try:
            deadline = time.monotonic() + 60
            while [status for _, status in _watch_jobs(db_url)] != ["doing", "doing"]:
                assert time.monotonic() < deadline, _watch_jobs(db_url)
                time.sleep(0.2)
            assert [lock for lock, _ in _watch_jobs(db_url)] == [
                "watch:clusters/prod-eu",
                "watch:clusters/prod-us",
            ]
            app = next(
                o for o in export_items(clusters.clusters[0].export) if o["kind"] == "Application"
            )
            before = store.runs(limit=1)[0].id
            _touch(clusters.servers[0], app, "Degraded")
            holder = None
            while holder is None:
                assert time.monotonic() < deadline + 30, "no replica synced the change"
                holder = _holder(store, before)
                time.sleep(0.2)
            pid = int(holder.rsplit("-", 1)[1])
            replicas.pop(pid).kill()  # the holder dies without a word
            survivor = next(iter(replicas.values()))
            before = store.runs(limit=1)[0].id
            deadline = time.monotonic() + 90
            heir = None
            while heir is None:
                assert time.monotonic() < deadline, "the dead replica's cluster was not taken over"
                _touch(clusters.servers[0], app, "Progressing" if time.time() % 2 else "Healthy")
                time.sleep(1.0)
                heir = _holder(store, before)
            assert heir == holder.rsplit("-", 1)[0] + f"-{survivor.process.pid}"
            doing = [lock for lock, status in _watch_jobs(db_url) if status == "doing"]
            assert sorted(doing) == ["watch:clusters/prod-eu", "watch:clusters/prod-us"]
        finally:
            for replica in replicas.values():
                replica.stop()
