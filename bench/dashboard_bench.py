"""Benchmark of the dashboard (issue 12): how long its pages take to load, as a browser asks.

Two worlds, each served by a real ``trueup serve`` on 127.0.0.1 (its own
process), read over HTTP by a client signed in through the token form; every
page is fetched ``--repeat`` times and the time to its last byte printed
(median, 95th percentile, slowest):

- the catalog world: :func:`trueup.world.write_scaled_world` with ``--entities``
  catalog entities plus the cluster exports of their workloads, synced once
  with ``trueup sync`` — the catalog's first page, a page half way through (by
  its keyset cursor), the search and filters, an entity page, the scorecards
  (the first load, which replays every revision, then warm) and the sources;
- the history world: one catalog file whose entity changes ``--revisions``
  times, each change synced (:func:`trueup.pipeline.sync`, in this process) so
  the entity has that many revisions — its entity page, its whole history and a diff between the
  first and the last revision.

Usage: ``python bench/dashboard_bench.py [--entities 100000] [--revisions 200]
[--repeat 20] [--dir DIR]`` (``--dir`` keeps the worlds, and reuses them when
run again).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from trueup.config import load_config
from trueup.pipeline import sync
from trueup.store import Store
from trueup.world import write_scaled_world

TRUEUP = [sys.executable, "-m", "trueup"]
READ = secrets.token_urlsafe(18)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(*args: str, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run([*TRUEUP, *args], check=False, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def with_server(config: Path, port: int) -> str:
    """Append a server section (listen, a read token from the environment) once; the
    world's listen address."""
    text = config.read_text(encoding="utf-8")
    if "\nserver:" not in text:
        text += (
            f"\nserver:\n  listen: 127.0.0.1:{port}\n  tokens:\n"
            "    - {name: bench, role: read, token: ${TRUEUP_BENCH_TOKEN}}\n"
        )
        config.write_text(text, encoding="utf-8")
    for line in text.splitlines():
        if line.strip().startswith("listen:"):
            return line.split("listen:", 1)[1].strip()
    raise SystemExit(f"{config} has no listen address")


class Served:
    """``trueup serve`` on a world until the block ends (SIGTERM to its own pid)."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.url = f"http://{with_server(config, free_port())}"  # the world's own address
        self.since = datetime.now(UTC)
        self.process = subprocess.Popen(
            [*TRUEUP, "serve", "-c", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def __enter__(self) -> httpx.Client:
        try:
            return self._start()
        except BaseException:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=120)
            raise

    def _start(self) -> httpx.Client:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit("trueup serve did not start")
            time.sleep(0.2)
        self.client = httpx.Client(base_url=self.url, timeout=600)
        signed = self.client.post("/ui/login", data={"token": READ, "next": "/ui/catalog"})
        assert signed.status_code == 303, signed.text
        self._settle()
        return self.client

    def _settle(self) -> None:
        """Wait until the scheduler has synced every source that was due when the server
        started (each is due at once on a new database), so pages are measured in the
        steady state and not beside a sync."""
        started = time.perf_counter()
        while True:
            try:  # a new connection each time: the server is busy syncing, idle ones may close
                sources = _get(f"{self.url}/api/v1/sources")
                runs = _get(f"{self.url}/api/v1/runs?limit=50")
            except httpx.TransportError:
                time.sleep(1)
                continue
            now = datetime.now(UTC)
            scheduled = all(
                s["next_due_at"] and datetime.fromisoformat(s["next_due_at"]) > now for s in sources
            )
            busy = [
                r
                for r in runs
                if not r["finished_at"] and datetime.fromisoformat(r["started_at"]) > self.since
            ]
            if scheduled and not busy:
                break
            time.sleep(2)
        print(f"  (waited {time.perf_counter() - started:.1f} s for the scheduler's first syncs)")

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)


def measure(client: httpx.Client, label: str, path: str, repeat: int) -> None:
    times = []
    size = 0
    for _ in range(repeat):
        started = time.perf_counter()
        answer = client.get(path)
        times.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise SystemExit(f"{path}: HTTP {answer.status_code}")
        size = len(answer.content)
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(
        f"  {label:<44} median {statistics.median(times) * 1000:7.1f} ms   "
        f"p95 {p95 * 1000:7.1f} ms   max {ordered[-1] * 1000:7.1f} ms   {size / 1024:6.0f} KiB"
    )


def catalog_world(root: Path, entities: int, env: dict[str, str]) -> Path:
    config = root / "trueup.yaml"
    if not config.exists():
        started = time.perf_counter()
        write_scaled_world(root, entities=entities)
        with_server(config, free_port())  # before the sync: the feed URLs name the server
        print(f"  wrote {entities:,} entities in {time.perf_counter() - started:.1f} s")
        print(f"  trueup sync took {run('sync', '-c', str(config), env=env):.1f} s")
    return config


def history_world(root: Path, revisions: int) -> Path:
    config = root / "trueup.yaml"
    if config.exists():
        return config
    catalog = root / "catalog"
    catalog.mkdir(parents=True)
    config.write_text(
        "database: sqlite:///trueup.db\n"
        "sources:\n  - id: catalog\n    type: file\n    path: catalog\n",
        encoding="utf-8",
    )
    with_server(config, free_port())
    started = time.perf_counter()
    loaded = load_config(config)
    store = Store.open(loaded.database)
    store.upgrade()
    for number in range(1, revisions + 1):
        (catalog / "catalog-info.yaml").write_text(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
            f"metadata:\n  name: busy\n  description: Edit number {number}\n"
            f"  tags: [edit-{number % 7}]\n"
            f"spec:\n  type: service\n  lifecycle: production\n  owner: team-{number % 3}\n",
            encoding="utf-8",
        )
        sync(loaded, store, trigger="cli")
    store.close()
    print(f"  {revisions} syncs, one change each, took {time.perf_counter() - started:.1f} s")
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--revisions", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--dir", type=Path, default=None, help="keep (and reuse) the worlds here")
    args = parser.parse_args(argv)
    os.environ["TRUEUP_BENCH_TOKEN"] = READ  # the worlds' configurations read it
    env = dict(os.environ)
    keep = args.dir
    with tempfile.TemporaryDirectory(prefix="trueup-dashboard-bench-") as scratch:
        base = keep or Path(scratch)
        print(f"catalog world: {args.entities:,} entities ({base / 'catalog'})")
        config = catalog_world(base / f"catalog-{args.entities}", args.entities, env)
        with Served(config, env) as client:
            middle = _middle(config.parent / "trueup.db")
            owner = _owner(client)
            measure(client, "scorecards, first load (replays all history)", "/ui/scorecards", 1)
            for label, path in (
                ("catalog, first page", "/ui/catalog"),
                ("catalog, a page half way through", f"/ui/catalog?after={middle}"),
                ("catalog, search by name", "/ui/catalog?q=billing-1"),
                ("catalog, one owner's entities", f"/ui/catalog?owner={owner}"),
                ("catalog, kind=component and drift=yes", "/ui/catalog?kind=component&drift=yes"),
                ("catalog, stale=yes", "/ui/catalog?stale=yes"),
                ("entity page (1 revision)", _first_entity(client)),
                ("scorecards, warm", "/ui/scorecards"),
                ("one owner's scorecard", f"/ui/scorecards/owner?owner={owner}"),
                ("sources", "/ui/sources"),
            ):
                measure(client, label, path, args.repeat)
        print(f"history world: one entity with {args.revisions} revisions")
        config = history_world(base / f"history-{args.revisions}", args.revisions)
        entity = "/ui/entities/component/default/busy"
        with Served(config, env) as client:
            for label, path in (
                (f"entity page ({args.revisions} revisions)", entity),
                (f"history, page 1 of {args.revisions} revisions", f"{entity}/history"),
                (
                    "diff of the first and last revision",
                    f"{entity}/diff?from=1&to={args.revisions}",
                ),
            ):
                measure(client, label, path, args.repeat)
    return 0


def _middle(database: Path) -> str:
    """The ref of the entity half way through the catalog in ref order (the page cursor)."""
    with sqlite3.connect(database) as conn:
        (count,) = conn.execute("SELECT count(*) FROM entities").fetchone()
        kind, namespace, name = conn.execute(
            "SELECT kind, namespace, name FROM entities ORDER BY kind, namespace, name "
            "LIMIT 1 OFFSET ?",
            (count // 2,),
        ).fetchone()
    return f"{kind}:{namespace}/{name}"


def _owner(client: httpx.Client) -> str:
    page = client.get("/api/v1/entities", params={"limit": 1}, headers=_bearer()).json()
    return str(page["items"][0]["owner"])


def _first_entity(client: httpx.Client) -> str:
    page = client.get(
        "/api/v1/entities", params={"limit": 1, "kind": "component"}, headers=_bearer()
    ).json()
    kind, _, rest = str(page["items"][0]["ref"]).partition(":")
    return f"/ui/entities/{kind}/{rest}"


def _get(url: str) -> Any:
    return httpx.get(url, headers=_bearer(), timeout=60).json()


def _bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {READ}"}


if __name__ == "__main__":
    raise SystemExit(main())
