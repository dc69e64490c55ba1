"""Mirror repositories behind real git servers on 127.0.0.1, and a source repository.

- ``mirror``: a bare repository served by ``git daemon`` with pushes enabled; the
  server refuses non-fast-forward updates and keeps a reflog of its branch, so a
  force push could neither land nor go unseen.
- :class:`HttpGitServer`: ``git http-backend`` behind HTTP basic auth, for URLs
  that carry a token.
- :func:`hydrate_config`: a configuration whose ``git`` source reads a local
  repository, as a CI job's checkout would be.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.sources.git.conftest import WorkRepo, component, git, serving_git
from trueup.config import Config, parse_config

__all__ = ["WorkRepo", "component", "git"]


@dataclass
class Mirror:
    bare: Path  # the served repository
    url: str  # how clients reach it

    def head(self, branch: str = "main") -> str | None:
        out = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
            cwd=self.bare,
            capture_output=True,
            text=True,
            check=False,
        )
        return out.stdout.strip() or None

    def files(self, commit: str | None = None) -> dict[str, str]:
        """path → content at ``commit`` (default: the head)."""
        commit = commit or self.head()
        assert commit is not None
        names = git(self.bare, "ls-tree", "-r", "--name-only", commit).splitlines()
        return {name: git(self.bare, "show", f"{commit}:{name}") + "\n" for name in names}

    def blobs(self, commit: str | None = None) -> dict[str, str]:
        commit = commit or self.head()
        assert commit is not None
        lines = git(self.bare, "ls-tree", "-r", commit).splitlines()
        return {line.split("\t")[1]: line.split()[2] for line in lines}

    def log(self) -> list[str]:
        """Commit ids, newest first."""
        return git(self.bare, "log", "--format=%H", "main").splitlines()

    def message(self, commit: str | None = None) -> str:
        return git(self.bare, "log", "-1", "--format=%B", commit or "main")

    def reflog(self) -> list[tuple[str, str]]:
        """(old, new) of every update of ``main``, oldest first."""
        path = self.bare / "logs" / "refs" / "heads" / "main"
        return [
            (line.split()[0], line.split()[1]) for line in path.read_text().splitlines() if line
        ]


def make_bare(folder: Path, name: str = "mirror.git") -> Path:
    bare = folder / name
    git(folder, "init", "-q", "--bare", "-b", "main", name)
    git(bare, "config", "receive.denyNonFastForwards", "true")
    git(bare, "config", "receive.denyDeletes", "true")
    git(bare, "config", "core.logAllRefUpdates", "always")
    return bare


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Mirror]:
    """An empty bare mirror served over ``git://`` with pushes enabled."""
    served = tmp_path / "served"
    served.mkdir()
    bare = make_bare(served)
    with serving_git(served, push=True) as port:
        yield Mirror(bare, f"git://127.0.0.1:{port}/mirror.git")


@pytest.fixture
def catalog(tmp_path: Path) -> WorkRepo:
    """The source repository: four components owned by one group."""
    repo = WorkRepo(tmp_path / "catalog")
    for name in ("a", "b", "c", "d"):
        repo.write(f"{name}/catalog-info.yaml", component(name))
    repo.write(
        "group/catalog-info.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\n"
        "spec:\n  type: team\n  children: []\n",
    )
    repo.commit("four components")
    return repo


def hydrate_config(folder: Path, source: Path, *, extra: str = "") -> Config:
    """A configuration reading ``source`` (a local repository) as a CI checkout.

    Its links name the repository's home on GitHub, as a CI job's configuration
    would, so that runners with checkouts in other folders hydrate the same files.
    """
    text = (
        "sources:\n"
        "  - id: catalog\n"
        "    type: git\n"
        f"    url: {source}\n"
        "    include: ['**/catalog-info.yaml']\n"
        "    web: {host: github, base: 'https://github.com/acme/catalog'}\n"
        "checks:\n"
        "  required_fields: {}\n" + extra
    )
    folder.mkdir(parents=True, exist_ok=True)
    return parse_config(text, str(folder / "trueup.yaml"), {}, folder)


class _GitHttp(BaseHTTPRequestHandler):
    server: HttpGitServer

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        self.server.requests.append(self.headers.get("Authorization", ""))
        if self.headers.get("Authorization") != self.server.expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self._body()
        path, _, query = self.path.partition("?")
        env = {
            **os.environ,
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "ci",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        done = subprocess.run(
            ["git", "http-backend"], input=body, capture_output=True, env=env, check=False
        )
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.decode().split("\r\n"):
            key, _, value = line.partition(": ")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))


class HttpGitServer(ThreadingHTTPServer):
    """``git http-backend`` for the repositories under ``root``, behind basic auth."""

    daemon_threads = True

    def __init__(self, root: Path, user: str, token: str) -> None:
        super().__init__(("127.0.0.1", 0), _GitHttp)
        self.root = root
        self.expected = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
        self.requests: list[str] = []
        self.port: int = self.server_address[1]
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)
