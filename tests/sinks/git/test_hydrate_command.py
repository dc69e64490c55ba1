"""``trueup hydrate`` as a CI job runs it: exit codes, ``--check``, refusals, secrets."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.sinks.git.conftest import HttpGitServer, Mirror, WorkRepo, component, git, make_bare
from trueup.cli import main

TOKEN = "ghs_s3cr3tT0kenThatMustNeverShow"


def write_config(folder: Path, source: Path, sinks: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "trueup.yaml"
    path.write_text(
        "sources:\n"
        "  - id: catalog\n"
        "    type: git\n"
        f"    url: {source}\n"
        "    web: {host: github, base: 'https://github.com/acme/catalog'}\n"
        "checks:\n"
        "  required_fields: {}\n" + sinks
    )
    return path


def test_check_gates_a_pull_request_and_writes_nothing(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "ci", catalog.path)
    hydrate = ["hydrate", "-c", str(config), "--mirror", mirror.url]

    assert main([*hydrate, "--check"]) == 3
    assert mirror.head() is None
    assert "out of date at an empty mirror: component:default/a" in capsys.readouterr().out

    assert main([*hydrate, "--push"]) == 0
    pushed = mirror.head()
    assert main([*hydrate, "--check"]) == 0
    assert f"up to date at {pushed[:12]}" in capsys.readouterr().out  # type: ignore[index]

    catalog.write("a/catalog-info.yaml", component("a", description="new words"))
    catalog.commit()
    assert main([*hydrate, "--check"]) == 3
    assert mirror.head() == pushed


def test_without_push_the_commit_stays_in_the_local_clone(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "ci", catalog.path)
    assert main(["hydrate", "-c", str(config), "--mirror", mirror.url]) == 0
    assert "made, not pushed" in capsys.readouterr().out
    assert mirror.head() is None


def test_the_mirror_is_never_a_source_repository(
    tmp_path: Path, catalog: WorkRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    bare = make_bare(served, "catalog.git")
    catalog.git("push", "-q", str(bare), "HEAD:main")
    config = write_config(tmp_path / "ci", bare)

    code = main(["hydrate", "-c", str(config), "--mirror", str(bare), "--push"])

    assert code == 1
    err = capsys.readouterr().err
    assert "the mirror is the repository that source 'catalog' reads" in " ".join(err.split())
    assert git(bare, "log", "--format=%s", "main") == "four components"


def test_a_configured_git_sink_is_refused_by_config_check(
    tmp_path: Path, catalog: WorkRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path / "ci", catalog.path, f"sinks:\n  - type: git\n    url: {catalog.path}/.git\n"
    )
    assert main(["config", "check", "-c", str(config)]) == 1
    assert "hydrated entities go to a separate repository" in " ".join(
        capsys.readouterr().err.split()
    )


def test_a_source_that_fails_writes_nothing(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "ci", catalog.path)
    assert main(["hydrate", "-c", str(config), "--mirror", mirror.url, "--push"]) == 0
    pushed = mirror.head()
    broken = write_config(tmp_path / "broken", tmp_path / "no-such-repository")

    code = main(["hydrate", "-c", str(broken), "--mirror", mirror.url, "--push"])

    assert code == 2
    out = " ".join(capsys.readouterr().out.split())
    assert "not written: catalog/no-such-repository@main could not be read completely" in out
    assert mirror.head() == pushed


def test_a_token_in_the_mirror_url_never_shows(
    tmp_path: Path,
    catalog: WorkRepo,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    bare = make_bare(served)
    server = HttpGitServer(served, "x-access-token", TOKEN)
    caplog.set_level(logging.DEBUG)
    try:
        url = f"http://x-access-token:{TOKEN}@127.0.0.1:{server.port}/mirror.git"
        config = write_config(tmp_path / "ci", catalog.path)
        assert main(["hydrate", "-c", str(config), "--mirror", url, "--push"]) == 0
        catalog.write("a/catalog-info.yaml", component("a", description="again"))
        catalog.commit()
        assert main(["hydrate", "-c", str(config), "--mirror", url, "--push"]) == 0
        wrong = url.replace(TOKEN, TOKEN[::-1])
        assert main(["hydrate", "-c", str(config), "--mirror", wrong, "--push"]) == 2
    finally:
        server.close()

    out = capsys.readouterr()
    assert "http://x-access-token:****@127.0.0.1" in out.out
    assert len(git(bare, "log", "--format=%H", "main").splitlines()) == 2
    assert "Authentication failed" in out.out or "401" in out.out
    everything = [out.out, out.err, caplog.text, git(bare, "log", "--format=%B", "main")]
    everything += [
        p.read_text(errors="replace") for p in (tmp_path / "ci").rglob("*") if p.is_file()
    ]
    assert not any(TOKEN in text or TOKEN[::-1] in text for text in everything)
    assert any(request.startswith("Basic ") for request in server.requests)
