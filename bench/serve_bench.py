"""``trueup serve`` under load (SPEC section 9, issue 11): prints figures.

1. push → visible: a catalog file changes in one git repository, a signed
   GitHub push webhook announces it, and the time until the changed entity is
   served (``GET /api/v1/entities/...`` shows the new description; it is
   committed in the same transaction as its feed row) — p50/p95 over
   ``--pushes`` pushes. Target: p95 under 1 s at 100,000 entities.
2. the feed: ``GET /backstage/entities.yaml`` for the whole world, time to the
   last byte and the server's memory (VmRSS after, VmHWM peak). Target: 5 s.
3. single-entity API reads at ``--rate`` requests/s (open loop: latency counts
   from the moment a request was due) — p50/p99. Target: p99 under 50 ms.

The world is :func:`trueup.world.write_scaled_world` with each repository made
a real git repository read by its own ``git`` source; the server is one
``trueup serve`` process on SQLite. Usage::

    python bench/serve_bench.py --entities 100000 --pushes 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from trueup.web.signatures import sign_github
from trueup.world import write_scaled_world
from trueup.world.scaled import ScaledWorld, touch_one_file

TRUEUP = str(Path(sys.executable).with_name("trueup"))
READ = "bench-read-token-000000"
SECRET = "bench-webhook-secret"
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True)


def make_git_world(world: ScaledWorld, port: int) -> Path:
    """Each repository a git repository with one ``git`` source; tokens and a webhook."""
    for repo in world.repos:
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "catalog")
    sources = "".join(
        f"  - {{id: {repo.name}, type: git, url: {repo}, branch: main,"
        f' include: ["**/*.yaml"], interval: 24h}}\n'
        for repo in world.repos
    )
    config = world.root / "serve.yaml"
    config.write_text(
        f"""database: sqlite:///{world.root / "serve.db"}
public_url: http://trueup.bench
data_dir: {world.root / "data"}
sources:
{sources}  - {{id: clusters, type: kubernetes, snapshot: "{world.root}/exports/*.json",
     collect: [workloads, argocd], max_age: 24h, interval: 24h}}
server:
  listen: 127.0.0.1:{port}
  tokens: [{{name: bench, role: read, token: {READ}}}]
  webhooks:
    github: {{secret: {SECRET}}}
""",
        encoding="utf-8",
    )
    return config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def push_to_visible(world: ScaledWorld, base: str, pushes: int) -> list[float]:
    auth = {"Authorization": f"Bearer {READ}"}
    latencies = []
    with httpx.Client(timeout=300) as client:
        for i in range(pushes):
            touched = touch_one_file(world, index=i * 37)
            git(touched.repo, "commit", "-q", "-am", f"edit {i}")
            body = json.dumps(
                {
                    "ref": "refs/heads/main",
                    "repository": {
                        "full_name": f"bench/{touched.repo.name}",
                        "clone_url": str(touched.repo),
                    },
                }
            ).encode()
            kind, _, rest = touched.ref.partition(":")
            namespace, _, name = rest.partition("/")
            url = f"{base}/api/v1/entities/{kind}/{namespace}/{name}"
            started = time.perf_counter()
            answer = client.post(
                f"{base}/webhooks/github",
                content=body,
                headers={
                    "X-GitHub-Event": "push",
                    "X-GitHub-Delivery": f"bench-{i}-{time.time_ns()}",
                    "X-Hub-Signature-256": sign_github(SECRET.encode(), body),
                },
            )
            assert answer.status_code == 202, answer.text
            while True:
                entity = client.get(url, headers=auth).json()
                if (
                    entity.get("entity", {}).get("metadata", {}).get("description")
                    == touched.description
                ):
                    break
                time.sleep(0.01)
            latencies.append(time.perf_counter() - started)
            print(f"  push {i + 1}/{pushes}: {latencies[-1]:.3f} s", flush=True)
    return latencies


def feed(base: str, pid: int) -> tuple[float, int, float, float]:
    started = time.perf_counter()
    size = 0
    with httpx.stream(
        "GET", f"{base}/backstage/entities.yaml", params={"token": READ}, timeout=600
    ) as response:
        for chunk in response.iter_bytes():
            size += len(chunk)
    elapsed = time.perf_counter() - started
    rss, hwm = memory(pid)
    return elapsed, size, rss, hwm


async def reads(base: str, refs: list[str], rate: float, seconds: float) -> list[float]:
    auth = {"Authorization": f"Bearer {READ}"}
    rng = random.Random(1)
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits, headers=auth) as client:

        async def one(due: float, ref: str) -> None:
            kind, _, rest = ref.partition(":")
            namespace, _, name = rest.partition("/")
            answer = await client.get(f"{base}/api/v1/entities/{kind}/{namespace}/{name}")
            assert answer.status_code == 200, answer.text
            latencies.append(time.perf_counter() - due)

        start = time.perf_counter() + 0.5
        tasks = []
        for n in range(int(rate * seconds)):
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(due, rng.choice(refs))))
        await asyncio.gather(*tasks)
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--pushes", type=int, default=100)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    # SIGTERM ends the run through the finally below: the server is stopped, the world removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix="trueup-serve-bench-"))
    started = time.perf_counter()
    world = write_scaled_world(root, entities=args.entities)
    port = free_port()
    config = make_git_world(world, port)
    print(
        f"world: {args.entities} entities in {len(world.repos)} git repositories "
        f"({time.perf_counter() - started:.1f} s to write)",
        flush=True,
    )
    started = time.perf_counter()
    subprocess.run([TRUEUP, "sync", "-c", str(config)], check=False, capture_output=True)
    print(f"cold sync: {time.perf_counter() - started:.1f} s", flush=True)
    log = (root / "serve.log").open("wb")
    server = subprocess.Popen(
        [TRUEUP, "serve", "-c", str(config), "--log-level", "warning"], stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("trueup serve did not start")
            time.sleep(0.2)
        # Let the first ticks' periodic syncs (every source is due once at start) finish.
        while (
            httpx.get(
                f"{base}/api/v1/runs",
                params={"limit": 1},
                headers={"Authorization": f"Bearer {READ}"},
            ).json()[0]["finished_at"]
            is None
        ):
            time.sleep(1)
        time.sleep(5)
        elapsed, size, rss, hwm = feed(base, server.pid)
        refs = [
            r["ref"]
            for r in httpx.get(
                f"{base}/api/v1/entities",
                params={"limit": 500},
                headers={"Authorization": f"Bearer {READ}"},
            ).json()["items"]
        ]
        latencies = asyncio.run(reads(base, refs, args.rate, args.seconds))
        pushes = push_to_visible(world, base, args.pushes)
        p50, p95 = percentile(pushes, 0.5), percentile(pushes, 0.95)
        r50, r99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
        print()
        print(f"figures at {args.entities} entities (2-core machine, SQLite, one server process)")
        print(f"  push webhook -> visible     p50 {p50:7.3f} s   p95 {p95:7.3f} s", end="")
        print(f"   ({len(pushes)} pushes; target p95 < 1 s)")
        print(
            f"  feed, time to last byte     {elapsed:7.2f} s   ({size / 1e6:.1f} MB; target < 5 s)"
        )
        print(f"  server memory after feed    VmRSS {rss:7.1f} MiB   peak VmHWM {hwm:7.1f} MiB")
        print(
            f"  entity reads at {args.rate:.0f}/s        p50 {r50:7.1f} ms  p99 {r99:7.1f} ms",
            end="",
        )
        print(f"   ({len(latencies)} reads; target p99 < 50 ms)")
        print(f"  (mean push {statistics.mean(pushes):.3f} s)")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)
        log.close()
        if not args.keep:
            import shutil

            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
