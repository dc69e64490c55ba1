"""Real git repositories in temp folders, a loopback ``git daemon`` and a cutting proxy.

- :class:`WorkRepo`: a working repository the test edits and commits to (and
  pushes from, to a bare "server" repository).
- ``git_daemon`` (:func:`serving_git`): ``git daemon`` on 127.0.0.1 serving a
  folder of bare repositories over ``git://``.
- :class:`CuttingProxy`: a TCP proxy that forwards at most ``limit`` bytes from
  the server and then closes both sides: a server that dies mid-fetch.
- :func:`read`: builds a :class:`GitSource` directly and drives it through a
  :class:`ReadContext`, as the pipeline does.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trueup.model.observation import ScopeRead, Snapshot
from trueup.sources.base import ReadContext
from trueup.sources.git import GitSource
from trueup.sources.git.config import GitSourceConfig
from trueup.store.snapshots import materialised

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def component(name: str, description: str = "A component", owner: str = "team-a") -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata:\n  name: {name}\n  description: {description}\n"
        f"spec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n"
    )


def location(name: str, *targets: str, type_: str | None = None) -> str:
    listed = ", ".join(f"'{t}'" for t in targets)
    kind_line = f"  type: {type_}\n" if type_ else ""
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Location\n"
        f"metadata:\n  name: {name}\nspec:\n{kind_line}  targets: [{listed}]\n"
    )


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **_ENV},
        timeout=60,
    )
    return result.stdout.strip()


class WorkRepo:
    """A working repository on branch ``main``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True)
        git(path, "init", "-q", "-b", "main")

    def write(self, relative: str, *documents: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("---\n".join(documents))

    def remove(self, relative: str) -> None:
        git(self.path, "rm", "-q", relative)

    def commit(self, message: str = "change") -> str:
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return git(self.path, "rev-parse", "HEAD")

    def git(self, *args: str) -> str:
        return git(self.path, *args)


def make_source(url: str, **overrides: object) -> GitSource:
    config = GitSourceConfig.model_validate(
        {"id": "catalog", "type": "git", "url": url, "include": ["**/catalog-info.yaml"]}
        | overrides
    )
    return GitSource(config)


def read(
    source: GitSource,
    data_dir: Path,
    *,
    previous: ScopeRead | None = None,
    scopes: frozenset[str] | None = None,
    hint: dict[str, str] | None = None,
    now: datetime = NOW,
) -> ScopeRead:
    context = ReadContext(
        now=lambda: now,
        previous={source.scope: previous} if isinstance(previous, Snapshot) else {},
        data_dir=data_dir,
        scopes=scopes,
        hint=hint or {},
    )
    reads = list(source.observe(context))
    assert len(reads) == 1
    # As the store holds it: a read that keeps the stored observations, with them.
    stored = {(source.id, scope): snap for scope, snap in context.previous.items()}
    return materialised(reads[0], stored)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, deadline: float = 10.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port}")


@contextmanager
def serving_git(served: Path, *, push: bool = False) -> Iterator[int]:
    """``git daemon`` on a free loopback port serving the bare repositories in ``served``
    (pushes too with ``push``); yields the port, stops the daemon after."""
    port = free_port()
    process = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            *(["--enable=receive-pack"] if push else []),
            "--listen=127.0.0.1",
            f"--port={port}",
            f"--base-path={served}",
            str(served),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield port
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def git_daemon(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A ``git daemon`` serving ``<tmp>/served``: yields (folder, port)."""
    served = tmp_path / "served"
    served.mkdir()
    with serving_git(served) as port:
        yield served, port


class CuttingProxy:
    """Forwards TCP to ``upstream``; after ``limit`` bytes from the server, cuts both sides."""

    def __init__(self, upstream: int, limit: int) -> None:
        self.upstream = upstream
        self.limit = limit
        self.cuts = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)  # so that close() is noticed promptly
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            threading.Thread(target=self._pump, args=(client,), daemon=True).start()

    def _pump(self, client: socket.socket) -> None:
        server = socket.create_connection(("127.0.0.1", self.upstream))
        sent = 0
        try:
            while True:
                ready, _, _ = select.select([client, server], [], [], 5)
                if not ready:
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is server:
                        if sent + len(data) > self.limit:
                            client.sendall(data[: self.limit - sent])
                            self.cuts += 1
                            return
                        sent += len(data)
                        client.sendall(data)
                    else:
                        server.sendall(data)
        except OSError:
            return
        finally:
            client.close()
            server.close()
