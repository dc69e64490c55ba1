"""Credentials in remote URLs: kept off git's command line and out of the clone.

Real git against ``git http-backend`` behind basic auth on 127.0.0.1
(:class:`~tests.sinks.git.conftest.HttpGitServer`); ``GIT_TRACE`` writes every
command line git runs (its own and its helpers', as ``ps`` would show them).
"""

from __future__ import annotations

import base64
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.sinks.git.conftest import HttpGitServer, WorkRepo, component, git, make_bare
from trueup.errors import RepositoryError
from trueup.git import remote_access
from trueup.git.mirror import MirrorClone, Signature
from trueup.git.repository import GitRepository

TOKEN = "ghp_UserOnlyT0ken0123456789"


def _on_disk(folder: Path) -> list[str]:
    return [p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file()]


def test_a_token_written_as_the_url_user_never_reaches_git_command_lines_or_the_clone(
    tmp_path: Path,
) -> None:
    # ``https://<token>@github.com/owner/repo.git``: GitHub's documented form, no password.
    served = tmp_path / "served"
    served.mkdir()
    bare = make_bare(served)
    work = WorkRepo(tmp_path / "work")
    work.write("catalog-info.yaml", component("a"))
    first = work.commit()
    work.git("push", "-q", str(bare), "HEAD:refs/heads/main")
    server = HttpGitServer(served, TOKEN, "")  # expects Basic base64("<token>:")
    trace = tmp_path / "trace.log"
    try:
        url = f"http://{TOKEN}@127.0.0.1:{server.port}/mirror.git"
        clone = MirrorClone(url, tmp_path / "clones" / "mirror.git", env={"GIT_TRACE": str(trace)})
        with clone.locked():
            assert clone.fetch("main") == first  # the first clone
            assert clone.fetch("main") == first  # ls-remote: nothing new
            commit = clone.write_commit(
                branch="main",
                parent=first,
                changes={"b/catalog-info.yaml": component("b").encode()},
                message="b",
                author=Signature("t", "t@example.com"),
                when=datetime(2025, 6, 1, 12, 0, tzinfo=UTC),
            )
            assert clone.push(commit, "main")
            assert clone.remote_head("main") == commit
    finally:
        server.close()

    assert git(bare, "rev-parse", "main") == commit
    assert "127.0.0.1" in trace.read_text()  # git did reach the server by its URL
    assert TOKEN not in trace.read_text()
    assert not [text for text in _on_disk(tmp_path / "clones") if TOKEN in text]
    assert TOKEN not in clone.url
    assert server.requests and all(r in ("", server.expected) for r in server.requests)


def test_remote_access_moves_a_url_user_token_into_a_header() -> None:
    access = remote_access(f"https://{TOKEN}@github.com/acme/catalog.git", {"A": "1"})
    header = base64.b64encode(f"{TOKEN}:".encode()).decode()
    assert access.url == "https://github.com/acme/catalog.git"
    assert access.env == {
        "A": "1",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {header}",
    }
    assert TOKEN in access.secrets and header in access.secrets

    # Percent-encoded, with a port: the decoded user is sent, both spellings are masked.
    access = remote_access("http://tok%2Fen@127.0.0.1:8080/x.git")
    assert access.url == "http://127.0.0.1:8080/x.git"
    encoded = base64.b64encode(b"tok/en:").decode()
    assert access.env["GIT_CONFIG_VALUE_0"] == f"Authorization: Basic {encoded}"
    assert {"tok/en", "tok%2Fen", encoded} <= set(access.secrets)


def test_remote_access_leaves_other_urls_as_they_are() -> None:
    for url in (
        "ssh://git@github.com/acme/catalog.git",  # an ssh user is no secret
        "git@github.com:acme/catalog.git",
        "git://127.0.0.1:9418/catalog.git",
        "https://github.com/acme/catalog.git",
        "/srv/git/catalog.git",
    ):
        access = remote_access(url, {"A": "1"})
        assert (access.url, dict(access.env), access.secrets) == (url, {"A": "1"}, ())


def test_a_remote_that_never_answers_is_named_with_the_git_command_that_waited(
    tmp_path: Path,
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        port = silent.getsockname()[1]
        url = f"http://{TOKEN}@127.0.0.1:{port}/acme/catalog.git"
        repo = GitRepository(url, tmp_path / "clones" / "catalog.git", timeout=1)
        with repo.locked(), pytest.raises(RepositoryError) as raised:
            repo.fetch("main")
    # ``git fetch`` runs as ``git -c fetch.fsckObjects=false fetch``: the command is fetch.
    assert str(raised.value) == (
        f"git fetch: no answer from http://****@127.0.0.1:{port}/acme/catalog.git within 1 s"
    )


def test_a_failing_git_command_is_named_with_its_cause_not_its_advice(tmp_path: Path) -> None:
    # git ends with advice ("Please make sure you have the correct access rights / and the
    # repository exists."): its last line alone read "git fetch: and the repository exists."
    missing = tmp_path / "no-such-repository"
    repo = GitRepository(str(missing), tmp_path / "clones" / "catalog.git", timeout=30)
    with repo.locked(), pytest.raises(RepositoryError) as raised:
        repo.fetch("main")
    assert "does not appear to be a git repository" in str(raised.value), str(raised.value)
    assert str(raised.value).startswith("git ")
