"""SIGTERM while a sync runs: the sync finishes and commits before the process exits."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.web.harness import ADMIN, ServeProcess, free_port
from trueup.config import load_config
from trueup.store import Store
from trueup.world import write_scaled_world


def test_a_sync_under_way_finishes_before_the_server_stops(tmp_path: Path) -> None:
    world = write_scaled_world(tmp_path / "w", entities=3000, now=datetime.now(UTC))
    config_path = world.config
    text = config_path.read_text().replace(
        "sinks:\n  - type: directory\n    path: out/catalog\n", ""
    )
    config_path.write_text(
        text + "server:\n  tokens:\n" + f"    - {{name: ops, role: admin, token: {ADMIN}}}\n"
    )
    config = load_config(config_path)
    with Store.open(config.database) as store:
        store.upgrade()
        server = ServeProcess(config_path, free_port(), log=tmp_path / "serve.log")
        with server:
            server.wait_ready(timeout=60)
            deadline = time.monotonic() + 60
            while not [r for r in store.runs() if r.status == "running"]:
                assert time.monotonic() < deadline, "no sync started"
                time.sleep(0.02)
            running = next(r for r in store.runs() if r.status == "running")
            server.process.send_signal(signal.SIGTERM)
            assert server.process.wait(timeout=120) in (0, -signal.SIGTERM)
            with httpx.Client() as client:
                try:
                    client.get(f"{server.url}/healthz", timeout=1)
                    raise AssertionError("the server still answers")
                except httpx.TransportError:
                    pass
        finished = next(r for r in store.runs(limit=100) if r.id == running.id)
        assert finished.finished_at is not None and finished.committed_at is not None
        assert finished.status in ("ok", "partial")
        assert '"trueup stopped"' in (tmp_path / "serve.log").read_text()
