"""Several ``trueup serve`` replicas on one PostgreSQL database (SPEC 8).

Two worker processes share 20 sources through procrastinate: every source is
synced once per interval, never by both at once; a replica killed in the middle
of a sync leaves its job to the other, which commits it with no duplicate
revision.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from tests.conftest import postgres_only
from tests.web.harness import ServeProcess, free_port
from trueup.crashpoint import ENV, SYNC_READ
from trueup.model.ref import EntityRef
from trueup.store import Store
from trueup.store.records import SyncRun

INTERVAL = 3.0
JITTER = 0.1


def _world(root: Path, db_url: str, sources: int, interval: str) -> Path:
    lines = [f"database: {db_url}", "public_url: http://trueup.test", "sources:"]
    for i in range(sources):
        folder = root / f"s{i:02d}"
        folder.mkdir(parents=True)
        (folder / "catalog-info.yaml").write_text(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
            f"metadata: {{name: svc-{i:02d}, description: Service {i}}}\n"
            "spec: {type: service, lifecycle: production, owner: team-a}\n"
        )
        lines += [f"  - {{id: s{i:02d}, type: file, path: {folder}, interval: {interval}}}"]
    lines += ["server:", f"  jitter: {JITTER}", "  concurrency: 1"]
    config = root / "trueup.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def _scheduled(store: Store) -> dict[str, list[SyncRun]]:
    """Committed periodic runs by source (a run refused for a concurrent commit and
    given up on committed nothing: it is a failed attempt, not a sync)."""
    by_source: dict[str, list[SyncRun]] = defaultdict(list)
    for run in store.runs(limit=1000):
        committed = run.committed_at is not None
        if committed and run.trigger.startswith("schedule") and len(run.sources) == 1:
            by_source[run.sources[0]].append(run)
    return {source: sorted(runs, key=lambda r: r.id) for source, runs in by_source.items()}


@postgres_only
def test_two_replicas_sync_each_of_20_sources_once_per_interval(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    config = _world(tmp_path, db_url, 20, f"{INTERVAL}s")
    started = time.monotonic()  # each process starts as it is made: count from here
    replicas = [
        ServeProcess(config, free_port(), role="worker", log=tmp_path / f"r{i}.log")
        for i in range(2)
    ]
    # Until every source has been synced 3 times (about 9 s on a quiet machine; a busy
    # one syncs slower, so the bounds below are on what happened, not on the clock).
    try:
        for replica in replicas:
            replica.wait_ready()
        deadline = started + 120
        while time.monotonic() < deadline:
            runs = _scheduled(store)
            if len(runs) == 20 and all(len(r) >= 3 for r in runs.values()):
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - started
    finally:
        for replica in replicas:
            assert replica.stop()
    runs = _scheduled(store)
    assert sorted(runs) == [f"s{i:02d}" for i in range(20)]
    workers = {run.trigger for source_runs in runs.values() for run in source_runs}
    assert len(workers) == 2, f"one replica did all the work: {workers}"
    counts = {source: len(source_runs) for source, source_runs in runs.items()}
    assert min(counts.values()) >= 3, counts
    assert max(counts.values()) - min(counts.values()) <= 2, f"a source left behind: {counts}"
    shortest = timedelta(seconds=INTERVAL * (1 - JITTER) - 0.05)
    most = int(elapsed / shortest.total_seconds()) + 2  # the first sync is due at once
    for source, source_runs in runs.items():
        assert len(source_runs) <= most, (source, [r.started_at for r in source_runs])
        for before, after in itertools.pairwise(source_runs):
            assert before.finished_at is not None
            assert before.finished_at <= after.started_at, f"{source} synced twice at once"
            gap = after.started_at - before.started_at
            assert gap >= shortest, f"{source} synced too soon"


@postgres_only
def test_a_replica_killed_mid_sync_leaves_its_job_to_the_other(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    config = _world(tmp_path, db_url, 3, "1h")
    doomed = ServeProcess(
        config, free_port(), role="worker", env={ENV: SYNC_READ}, log=tmp_path / "doomed.log"
    )
    doomed.process.wait(timeout=30)  # killed between reading a scope and committing it
    doomed.kill()
    started = [r for r in store.runs() if r.committed_at is None]
    assert len(started) == 1 and started[0].status == "running"
    orphan = started[0].sources[0]
    assert store.entity(EntityRef("component", "default", f"svc-{orphan[1:]}")) is None
    with ServeProcess(config, free_port(), role="worker", log=tmp_path / "heir.log") as heir:
        heir.wait_ready()
        deadline = time.monotonic() + 60
        while len([e for e in store.entities()]) < 3:
            assert time.monotonic() < deadline, "the dead replica's sync was never taken over"
            time.sleep(0.2)
        assert heir.stop()
    assert len(_scheduled(store)[orphan]) == 1
    for entity in store.entities():
        revisions = store.revisions(entity.ref)
        assert [r.number for r in revisions] == [1], f"{entity.ref} has duplicate revisions"
