"""The command line's edges: how the configuration is named, and what goes where.

Commands run in-process through ``trueup.cli.main`` with real files and a real
SQLite database, as in ``tests/test_cli.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run

CONFIG = "sources:\n  - {id: catalog, type: file, path: catalog}\n"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder holding a valid trueup.yaml (and the folder it reads)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "catalog").mkdir()
    (tmp_path / "trueup.yaml").write_text(CONFIG)
    return tmp_path


def test_a_config_named_with_a_tilde_is_found(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A quoted ``-c '~/…'`` or ``TRUEUP_CONFIG=~/…`` from a unit file or a Dockerfile's
    # ENV reaches trueup unexpanded; the loader expands it, so the command must too.
    code, out, err = run(capsys, "config", "check", "-c", "~/trueup.yaml")
    assert (code, err) == (0, "")
    assert "ok (1 sources" in out
    monkeypatch.setenv("TRUEUP_CONFIG", "~/trueup.yaml")
    code, out, err = run(capsys, "config", "check")
    assert (code, err) == (0, "")


COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: payments}
spec: {type: service, lifecycle: production, owner: group:default/team-a}
"""


@pytest.fixture
def synced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A configuration whose one source has been synced; its path."""
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "payments.yaml").write_text(COMPONENT)
    config = tmp_path / "trueup.yaml"
    config.write_text(CONFIG)
    assert run(capsys, "sync", "-c", str(config))[0] == 0
    return config


@pytest.mark.parametrize("command", ["explain", "history"])
def test_an_unknown_ref_leaves_json_stdout_empty(
    synced: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    # A script reads stdout as JSON: the human sentence goes to stderr, with exit 1.
    code, out, err = run(capsys, command, "component:nope", "--format", "json", "-c", str(synced))
    assert (code, out) == (1, "")
    assert "component:default/nope" in err


@pytest.mark.parametrize(
    "argv",
    [["check"], ["check", "--format", "json"], ["export"], ["explain", "x"], ["history", "x"]],
)
def test_reading_before_any_sync_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    # Before: exit 2 (a source failed, says SPEC) and "OperationalError: no such table".
    (tmp_path / "catalog").mkdir()
    config = tmp_path / "trueup.yaml"
    config.write_text(CONFIG)
    code, out, err = run(capsys, *argv, "-c", str(config))
    assert (code, out) == (1, "")
    assert "holds no trueup data yet" in err and "trueup sync" in err
    assert "no such table" not in err


def test_export_to_a_folder_that_does_not_exist_is_a_clear_error(
    synced: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: a FileNotFoundError traceback about ``.x.yaml.tmp``, a name nobody typed.
    target = synced.parent / "missing" / "x.yaml"
    code, out, err = run(capsys, "export", "-c", str(synced), "-o", str(target))
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {target}: cannot write") and ".tmp" not in err
    target.parent.mkdir()
    assert run(capsys, "export", "-c", str(synced), "-o", str(target))[0] == 0
    assert "name: payments" in target.read_text()
    assert [p.name for p in target.parent.iterdir()] == ["x.yaml"]
