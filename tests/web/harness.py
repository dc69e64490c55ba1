"""A real ``trueup serve`` for tests: in this process on a loopback port, or as a subprocess.

- :class:`World`: two real git repositories of catalog files (``catalog`` and
  ``other``), a ``trueup.yaml`` reading them with tokens and webhooks, synced once.
- :func:`serving`: :func:`trueup.web.serve.build_server` on uvicorn in a thread,
  bound to 127.0.0.1 on a free port; yields the base URL and the server.
- :class:`ServeProcess`: ``trueup serve`` as a child process (for restarts and
  crash points), stopped with SIGTERM or killed.
- :class:`LoopProbe`: whether an app's event loop keeps answering while a call
  that a test made slow runs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from tests.sources.git.conftest import WorkRepo, component
from trueup.config import Config, load_config
from trueup.pipeline import sync
from trueup.server_config import TokenConfig
from trueup.store import Store
from trueup.web.serve import Role, Server, build_server
from trueup.world import write_demo_world
from trueup.world.live import LiveClusters, start_demo_clusters, write_live_config

READ = "read-token-for-tests-0001"
ADMIN = "admin-token-for-tests-0002"
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_OLD_SECRET = "the-previous-secret"
GITLAB_TOKEN = "gitlab-token-for-tests"
ARGOCD_TOKEN = "argocd-token-for-tests"
TRUEUP = str(Path(sys.executable).with_name("trueup"))
AUTH = {"Authorization": f"Bearer {READ}"}
ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class World:
    """Two catalog repositories and a configuration that serves them."""

    def __init__(self, root: Path, db_url: str, *, extra: str = "", interval: str = "1h") -> None:
        self.root = root
        self.db_url = db_url
        self.catalog = WorkRepo(root / "catalog")
        self.catalog.write(
            "catalog-info.yaml",
            component("payments", "Takes payments"),
            component("orders", "Orders"),
        )
        self.catalog.commit("first")
        self.other = WorkRepo(root / "other")
        self.other.write("catalog-info.yaml", component("billing", "Bills"))
        self.other.commit("first")
        self.port = free_port()
        self.config_path = root / "trueup.yaml"
        self.config_path.write_text(
            f"""\
database: {db_url}
public_url: http://trueup.test
data_dir: {root / "data"}
sources:
  - id: catalog
    type: git
    url: {self.catalog.path}
    branch: main
    interval: {interval}
  - id: other
    type: git
    url: {self.other.path}
    branch: main
    interval: {interval}
server:
  listen: 127.0.0.1:{self.port}
  tokens:
    - {{name: backstage, role: read, token: {READ}}}
    - {{name: ops, role: admin, token: {ADMIN}}}
  webhooks:
    github: {{secret: "{GITHUB_SECRET}", secrets: ["{GITHUB_OLD_SECRET}"]}}
    gitlab: {{token: {GITLAB_TOKEN}}}
    argocd: {{token: {ARGOCD_TOKEN}}}
{extra}""",
            encoding="utf-8",
        )

    @property
    def config(self) -> Config:
        return load_config(self.config_path)

    def sync(self, store: Store) -> None:
        sync(self.config, store, trigger="test")

    def add_shipping(self) -> None:
        """Commit a third component to ``catalog``: ``shipping``."""
        self.catalog.write(
            "catalog-info.yaml",
            component("payments", "Takes payments"),
            component("orders", "Orders"),
            component("shipping", "Ships"),
        )
        self.catalog.commit("shipping")


@contextmanager
def live_demo(tmp_path: Path) -> Iterator[tuple[LiveClusters, Config, Store]]:
    """The demo world's clusters on loopback API servers, its live configuration with the
    read and admin tokens, and its SQLite store synced once."""
    world = write_demo_world(tmp_path / "demo", now=datetime.now(UTC))
    with start_demo_clusters(world) as clusters:
        config = load_config(write_live_config(world, clusters))
        tokens = [
            TokenConfig(name="r", role="read", token=SecretStr(READ)),
            TokenConfig(name="a", role="admin", token=SecretStr(ADMIN)),
        ]
        config = config.model_copy(
            update={"server": config.server.model_copy(update={"tokens": tokens})}
        )
        with Store.open(config.database) as store:
            store.upgrade()
            sync(config, store, trigger="test")
            yield clusters, config, store


@contextmanager
def serving(
    config: Config, store: Store, role: Role = Role.all, *, body_deadline: float = 10.0
) -> Iterator[tuple[str, Server]]:
    """``trueup serve`` in this process, on a free loopback port; stopped gracefully."""
    server = build_server(config, store, role, worker_name="test")
    server.state.body_deadline = body_deadline
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uv = uvicorn.Server(
        uvicorn.Config(server.app, lifespan="on", log_config=None, access_log=False)
    )
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        uv.should_exit = True
        thread.join(timeout=60)
        sock.close()


class ServeProcess:
    """``trueup serve -c CONFIG`` in a child process."""

    def __init__(
        self,
        config: Path,
        port: int,
        *,
        role: str = "all",
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log or config.parent / f"serve-{port}-{time.monotonic_ns()}.log"
        self._out = self.log.open("wb")
        self.process = subprocess.Popen(
            [TRUEUP, "serve", "-c", str(config), "--role", role, "--listen", f"127.0.0.1:{port}"],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"trueup serve exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"trueup serve is not ready: {self.log.read_text()[-2000:]}")

    def stop(self, timeout: float = 60) -> bool:
        """SIGTERM, then wait; whether the server shut down gracefully.

        uvicorn re-raises the signal once it has shut down (exit status -15), as
        a process stopped by SIGTERM should; the log says the shutdown completed.
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            self._out.close()
        return code in (0, -signal.SIGTERM) and '"trueup stopped"' in self.log.read_text()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        self._out.close()

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


class LoopProbe:
    """Whether the event loop keeps answering while a slow call runs.

    A test patches the call under test to run :meth:`block` first; :meth:`post`
    sends a request to the app and, once the call has started, sets ``answered``
    from the loop. That runs while the call waits only if the call runs off the
    loop: then ``waited`` is ``[True]``; a call that holds the loop waits out
    ``wait`` seconds (``[False]``).
    """

    def __init__(self, wait: float = 5.0) -> None:
        self.wait = wait  # the loop answers in milliseconds
        self.started = threading.Event()
        self.answered = threading.Event()
        self.waited: list[bool] = []

    def block(self) -> None:
        """In the slow call: say it started, then wait (at most ``wait``) for the loop."""
        self.started.set()
        self.waited.append(self.answered.wait(self.wait))

    def post(
        self, app: FastAPI, path: str, body: bytes, headers: Mapping[str, str]
    ) -> httpx.Response:
        async def deliver() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://trueup.test"
            ) as client:
                sent = asyncio.create_task(client.post(path, content=body, headers=headers))
                while not self.started.is_set() and not sent.done():
                    await asyncio.sleep(0.001)
                self.answered.set()  # runs while the call waits only if the loop is free
                return await sent

        return asyncio.run(deliver())
