"""Benchmark of the live Kubernetes source against the loopback API server.

Prints two figures (``make bench`` runs it; ``python bench/kube_bench.py --help``):

1. the initial list of N clusters x M objects (default 3 x 20,000 labelled
   Deployments) by ``KubernetesLiveSource`` — paginated, consistent, through
   the official client — with wall time and peak RSS of this process;
2. the end-to-end delay from a watch event to the assembled entity's new
   revision (p50/p95): ``KubernetesWatchSource`` watches the clusters, and each
   change it reports runs ``trueup.pipeline.sync`` (real SQLite store, removal
   guard, assembly, commit) over the watcher's latest snapshots; the clock runs
   from the write on the API server to the commit that holds the new revision.
   ``--database URL`` (a PostgreSQL server) stores it in a fresh database made
   there (``bench/run.py``) instead of SQLite.

The API servers run in a child process (``python -m trueup.testing.kube_api``, the
loopback server in :mod:`trueup.testing.kube_api`) so that their work is not
counted in this process's time or memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from trueup import pipeline
from trueup.config import Config
from trueup.model.observation import Snapshot
from trueup.model.ref import EntityRef
from trueup.sources.base import ReadContext
from trueup.sources.kubernetes.config import KubernetesSourceConfig
from trueup.sources.kubernetes.live import KubernetesLiveSource
from trueup.sources.kubernetes.watch_source import KubernetesWatchSource
from trueup.store import Store
from trueup.testing.kube_api import FakeContext, write_fake_kubeconfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/run.py, beside it

from bench.run import Databases


def deployment(i: int, ready: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": f"svc-{i:05d}",
            "namespace": f"team-{i % 50:02d}",
            "labels": {"app": f"svc-{i:05d}", "backstage.io/kubernetes-id": f"svc-{i:05d}"},
        },
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {"containers": [{"name": "main", "image": f"ghcr.io/acme/svc:{i}"}]}
            },
        },
        "status": {"readyReplicas": ready},
    }


class Servers:
    """The child process serving the clusters; ``apply`` writes one object into one cluster."""

    def __init__(self, count: int, seed: Path) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "trueup.testing.kube_api",
                "--count",
                str(count),
                "--seed",
                str(seed),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stdin is not None
        self.urls = self.process.stdout.readline().split()
        self.lock = threading.Lock()

    def apply(self, cluster: int, obj: dict[str, Any]) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        with self.lock:
            self.process.stdin.write(f"apply {cluster} {json.dumps(obj)}\n")
            self.process.stdin.flush()
            self.process.stdout.readline()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def initial_list(config: KubernetesSourceConfig) -> None:
    source = KubernetesLiveSource(config)
    started = time.perf_counter()
    reads = list(source.observe(ReadContext(now=lambda: datetime.now(UTC))))
    elapsed = time.perf_counter() - started
    objects = sum(len(r.observations) for r in reads if isinstance(r, Snapshot))
    failed = [r for r in reads if not isinstance(r, Snapshot)]
    print(
        f"initial list: {len(reads)} clusters, {objects:,} observations in {elapsed:.2f} s "
        f"({objects / elapsed:,.0f}/s), peak RSS {peak_rss_mib():.0f} MiB"
        + (f", FAILED: {failed}" if failed else "")
    )


def watch_latency(  # noqa: PLR0917 - a benchmark's knobs
    config: KubernetesSourceConfig,
    servers: Servers,
    events: int,
    objects: int,
    folder: Path,
    database: str | None,
) -> None:
    store = Store.open(database or f"sqlite:///{folder / 'bench.db'}")
    store.upgrade()
    changed = threading.Event()
    source = KubernetesWatchSource(config)
    source.start(on_change=lambda scope, read: changed.set())
    try:
        assert source.wait_for(lambda latest: len(latest) == len(servers.urls), 600)
        with mock.patch.object(pipeline, "selected_sources", lambda cfg, only: [source]):
            started = time.perf_counter()
            pipeline.sync(Config(sources=[config]), store)
            print(f"first sync of the watched clusters: {time.perf_counter() - started:.2f} s")
            delays, syncs = [], []
            for n in range(events):
                index = (n * 7919) % objects
                ref = EntityRef.of("component", None, f"svc-{index:05d}")
                before = store.entity(ref)
                assert before is not None
                changed.clear()
                written = time.perf_counter()
                servers.apply(n % len(servers.urls), deployment(index, ready=n % 2))
                while True:
                    changed.wait(60)
                    changed.clear()
                    sync_started = time.perf_counter()
                    pipeline.sync(Config(sources=[config]), store)
                    syncs.append(time.perf_counter() - sync_started)
                    after = store.entity(ref)
                    if after is not None and after.revision > before.revision:
                        break
                delays.append(time.perf_counter() - written)
        quantiles = statistics.quantiles(delays, n=20)
        print(
            f"watch event → new revision ({events} events): "
            f"p50 {statistics.median(delays) * 1000:.0f} ms, "
            f"p95 {quantiles[18] * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms "
            f"(of which pipeline sync p50 {statistics.median(syncs) * 1000:.0f} ms, "
            f"{len(syncs)} syncs); peak RSS {peak_rss_mib():.0f} MiB; "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
    finally:
        source.stop()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument(
        "--database",
        help="a PostgreSQL server's URL: the store is a fresh database there (default: SQLite)",
    )
    args = parser.parse_args()
    databases = Databases(args.database) if args.database else None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seed = folder / "seed.json"
        seed.write_text(json.dumps([deployment(i) for i in range(args.objects)]))
        started = time.perf_counter()
        servers = Servers(args.clusters, seed)
        print(
            f"{args.clusters} loopback API servers seeded with {args.objects:,} objects each in "
            f"{time.perf_counter() - started:.1f} s"
        )
        try:
            contexts = [FakeContext(f"c{i}", url) for i, url in enumerate(servers.urls)]
            kubeconfig = write_fake_kubeconfig(folder / "kubeconfig", contexts)
            config = KubernetesSourceConfig(
                id="bench",
                type="kubernetes",
                kubeconfig=str(kubeconfig),
                contexts=[c.name for c in contexts],
                collect=["workloads"],
                page_size=500,
            )
            initial_list(config)
            database = databases.create() if databases is not None else None
            watch_latency(config, servers, args.events, args.objects, folder, database)
        finally:
            servers.close()
            if databases is not None:
                databases.drop()


if __name__ == "__main__":
    main()
