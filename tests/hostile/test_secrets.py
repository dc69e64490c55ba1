"""Issue 8, case 5: a secret the configuration holds appears in no output, row or log line.

A ``${VAR}`` password in a GitHub ``api_url``'s userinfo was masked by ``config
show`` but printed by ``sync``, ``check`` (text, JSON, JUnit) and stored in the
findings table. Every one of those now passes through the one redaction layer.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import run
from tests.hostile.world import file_world

PASSWORD = "hunter2-not-for-your-eyes"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database_text(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return "\n".join(conn.iterdump())


def test_a_password_in_a_github_api_url_appears_in_no_output_row_or_log(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("GH_PASSWORD", PASSWORD)
    config = tmp_path / "trueup.yaml"
    config.write_text(
        f"database: sqlite:///{tmp_path / 'trueup.db'}\n"
        "sources:\n"
        "  - id: gh\n    type: github\n    org: acme\n"
        f'    api_url: "http://robot:${{GH_PASSWORD}}@127.0.0.1:{_closed_port()}/api"\n'
        "    max_retries: 0\n",
        encoding="utf-8",
    )
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    code, out, err = run(capsys, "sync", "-c", str(config))
    assert code == 2  # the listing failed: the run finished, a scope failed
    assert "robot:**********@127.0.0.1" in out  # the user name stays readable
    shown += [out, err]
    for fmt in ("text", "json", "junit"):
        code, out, err = run(capsys, "check", "-c", str(config), "--format", fmt)
        assert code == 3
        assert "source-failed" in out
        shown += [out, err]
    stored = _database_text(tmp_path / "trueup.db")
    assert "source-failed" in stored and "robot:**********@" in stored
    shown += [stored, caplog.text, *(record.getMessage() for record in caplog.records)]
    for text in shown:
        assert PASSWORD not in text
    code, out, _ = run(capsys, "config", "show", "-c", str(config))
    assert code == 0 and PASSWORD not in out


def test_a_substituted_value_that_is_no_secret_is_not_masked_out_of_the_catalog(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``org: ${GITHUB_ORG}`` made every "acme" in every stored row ``**********``:
    the entity ``acme-portal`` was stored, served and exported as ``**********-portal``.
    A value is a secret by where it goes (a token field, a URL's password), not
    because it came from the environment; those stay masked everywhere."""
    monkeypatch.setenv("GITHUB_ORG", "acme")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_token-from-the-environment")
    world = file_world(
        tmp_path,
        "  - {id: gh, type: github, org: '${GITHUB_ORG}', token: '${GITHUB_TOKEN}',"
        f" api_url: 'http://127.0.0.1:{_closed_port()}/api', max_retries: 0}}\n",
    )
    world.component("portal.yaml", "acme-portal", owner="team-acme")
    world.component("leak.yaml", "leak", description="uses ghp_token-from-the-environment")
    code, _, _ = run(capsys, "sync", "-c", str(world.config))
    assert code == 2  # the GitHub listing failed; the file source was read
    code, exported, _ = run(capsys, "export", "-c", str(world.config))
    assert code == 0
    assert "name: acme-portal" in exported and "owner: team-acme" in exported
    assert 'description: "uses **********"' in exported
    stored = _database_text(world.database)
    assert "component:default/acme-portal" in stored
    assert "ghp_token-from-the-environment" not in exported + stored
