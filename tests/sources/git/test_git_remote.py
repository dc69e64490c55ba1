"""The git source against loopback servers: ``git daemon``, a server that dies
mid-fetch (a proxy that cuts the stream), and HTTP servers answering 401/404."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from trueup.model.observation import FailureKind, ScopeFailure, Snapshot

from .conftest import CuttingProxy, WorkRepo, component, free_port, git, make_source, read


def publish(work: WorkRepo, served: Path, name: str = "catalog.git") -> Path:
    bare = served / name
    if not bare.exists():
        git(served, "init", "-q", "--bare", name)
    work.git("push", "-q", "--force", str(bare), "HEAD:refs/heads/main")
    return bare


def big_blob(size: int = 3 * 1024 * 1024) -> bytes:
    return os.urandom(size)  # incompressible: the pack really is this large


def current_head(data: Path) -> str:
    (clone,) = (data / "clones").glob("*.git")
    return git(clone, "rev-parse", "refs/trueup/current/main")


def test_clone_and_fetch_over_git_daemon(tmp_path: Path, git_daemon: tuple[Path, int]) -> None:
    served, port = git_daemon
    work = WorkRepo(tmp_path / "work")
    work.write("catalog-info.yaml", component("a"))
    work.commit()
    publish(work, served)
    source = make_source(f"git://127.0.0.1:{port}/catalog.git")
    data = tmp_path / "data"
    first = read(source, data)
    assert isinstance(first, Snapshot), first
    assert {o.ref.name for o in first.observations} == {"a"}
    assert source.scope == "catalog@main"

    work.write("b/catalog-info.yaml", component("b"))
    head = work.commit()
    publish(work, served)
    second = read(source, data, previous=first)
    assert isinstance(second, Snapshot)
    assert second.version == head
    assert {o.ref.name for o in second.observations} == {"a", "b"}
    assert source.files_parsed == 1


def test_server_dying_mid_fetch_changes_nothing(
    tmp_path: Path, git_daemon: tuple[Path, int]
) -> None:
    served, port = git_daemon
    work = WorkRepo(tmp_path / "work")
    work.write("catalog-info.yaml", component("a"))
    first_head = work.commit()
    publish(work, served)
    proxy = CuttingProxy(port, limit=10**9)
    try:
        source = make_source(f"git://127.0.0.1:{proxy.port}/catalog.git")
        data = tmp_path / "data"
        first = read(source, data)
        assert isinstance(first, Snapshot)
        state_before = next((data / "state").glob("*.json")).read_bytes()

        work.write("catalog-info.yaml", component("a", description="new"))
        (work.path / "blob.bin").write_bytes(big_blob())
        new_head = work.commit()
        publish(work, served)
        proxy.limit = 64 * 1024  # the server "dies" after 64 KiB of the pack
        failed = read(source, data, previous=first)
        assert isinstance(failed, ScopeFailure), failed
        assert failed.kind == FailureKind.UNREACHABLE, failed.message
        assert proxy.cuts >= 1
        assert current_head(data) == first_head  # the working data did not switch
        assert next((data / "state").glob("*.json")).read_bytes() == state_before
        (clone,) = (data / "clones").glob("*.git")
        assert git(clone, "rev-parse", "refs/trueup/fetched/main") == first_head

        proxy.limit = 10**9  # the server is back: the next read completes
        recovered = read(source, data, previous=first)
        assert isinstance(recovered, Snapshot), recovered
        assert recovered.version == new_head
        assert current_head(data) == new_head
    finally:
        proxy.close()


def test_first_clone_dying_midway_leaves_no_clone(
    tmp_path: Path, git_daemon: tuple[Path, int]
) -> None:
    served, port = git_daemon
    work = WorkRepo(tmp_path / "work")
    work.write("catalog-info.yaml", component("a"))
    (work.path / "blob.bin").write_bytes(big_blob())
    work.commit()
    publish(work, served)
    proxy = CuttingProxy(port, limit=64 * 1024)
    try:
        source = make_source(f"git://127.0.0.1:{proxy.port}/catalog.git")
        data = tmp_path / "data"
        failed = read(source, data)
        assert isinstance(failed, ScopeFailure)
        assert failed.kind == FailureKind.UNREACHABLE
        clones = data / "clones"
        assert [p.name for p in clones.iterdir() if not p.name.endswith(".lock")] == []
        assert not (data / "state").exists()
    finally:
        proxy.close()


def test_nothing_listening_is_unreachable(tmp_path: Path) -> None:
    source = make_source(f"git://127.0.0.1:{free_port()}/catalog.git")
    failed = read(source, tmp_path / "data")
    assert isinstance(failed, ScopeFailure)
    assert failed.kind == FailureKind.UNREACHABLE


@contextmanager
def http_status(status: int) -> Iterator[int]:
    """An HTTP server answering every request with ``status`` (as a git host would)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"message": "no"}).encode()
            self.send_response(status)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_http_401_is_forbidden_and_404_unreachable_and_secrets_stay_hidden(
    tmp_path: Path,
) -> None:
    with http_status(401) as port:
        url = f"http://deploy:s3cret-pass@127.0.0.1:{port}/acme/catalog.git"
        failed = read(make_source(url), tmp_path / "data")
    assert isinstance(failed, ScopeFailure)
    assert failed.kind == FailureKind.FORBIDDEN
    assert "s3cret-pass" not in failed.message
    with http_status(404) as port:
        # "401" and "403" in the URL (as in a port such as 40137) do not make it forbidden
        url = f"http://127.0.0.1:{port}/team-401/gone-403.git"
        failed = read(make_source(url), tmp_path / "d2")
    assert isinstance(failed, ScopeFailure)
    assert failed.kind == FailureKind.UNREACHABLE
    with http_status(403) as port:
        failed = read(make_source(f"http://127.0.0.1:{port}/acme/closed.git"), tmp_path / "d3")
    assert isinstance(failed, ScopeFailure)
    assert failed.kind == FailureKind.FORBIDDEN


def test_a_token_written_as_the_url_user_stays_hidden_when_the_server_never_answers(
    tmp_path: Path,
) -> None:
    # ``https://<token>@host/…`` is how GitHub and others document a token in a clone URL.
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        port = silent.getsockname()[1]
        url = f"http://ghp_s3cretToken@127.0.0.1:{port}/acme/catalog.git"
        failed = read(make_source(url, timeout="1s"), tmp_path / "data")
    assert isinstance(failed, ScopeFailure), failed
    assert failed.kind == FailureKind.UNREACHABLE
    assert "no answer" in failed.message
    assert "s3cretToken" not in failed.message
    assert f"http://****@127.0.0.1:{port}/acme/catalog.git" in failed.message
