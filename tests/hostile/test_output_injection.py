"""Issue 8, case 3: file names and values are data, never terminal control or markup.

A file name may hold a newline or an escape sequence, a value may hold Rich
markup or an emoji code: ``trueup check`` shows each as written, one finding
per line, and its JUnit and JSON reports always parse.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.conftest import run
from tests.hostile.world import FileWorld, file_world

INVALID = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {{name: {name}}}\n"


def _synced(tmp_path: Path, capsys: pytest.CaptureFixture[str], *names: str) -> FileWorld:
    world = file_world(tmp_path)
    for name in names:
        world.write(name, INVALID.format(name="Bad_Name!"))
    code, _, _ = run(capsys, "sync", "-c", str(world.config))
    assert code == 0
    return world


def test_a_newline_in_a_file_name_forges_no_line_in_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = _synced(tmp_path, capsys, "evil\nerror   invalid-file    cat:forged.yaml")
    code, out, _ = run(capsys, "check", "-c", str(world.config))
    assert code == 3
    lines = out.splitlines()
    assert not any(line.startswith("error   invalid-file    cat:forged") for line in lines)
    findings = [line for line in lines if line.startswith(("error", "warning", "info"))]
    assert len(findings) == 1  # one finding, one line
    assert "cat:evil\\nerror   invalid-file    cat:forged.yaml" in findings[0]
    assert lines[-1] == "1 findings (1 error, 0 warning, 0 info)"


def test_escape_sequences_in_a_name_never_reach_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "esc\x1b]0;pwned\x07\x1b[2J\x9b31m\u202ered.yaml"
    world = _synced(tmp_path, capsys, name)
    for argv in (["check"], ["sync"], ["check", "--by-owner"]):
        code, out, err = run(capsys, *argv, "-c", str(world.config))
        assert code in (0, 3)
        for text in (out, err):
            assert not any(ch in text for ch in "\x1b\x07\x9b\u202e"), argv
    code, out, _ = run(capsys, "check", "-c", str(world.config))
    assert "esc\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202ered.yaml" in out


def test_emoji_codes_and_markup_in_messages_are_shown_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = _synced(tmp_path, capsys, ":x: [bold red]loud[/bold red] :thumbs_up:.yaml")
    code, out, _ = run(capsys, "check", "-c", str(world.config))
    assert code == 3
    assert "cat::x: [bold red]loud[/bold red] :thumbs_up:.yaml" in out
    assert "❌" not in out and "👍" not in out


def test_check_junit_output_parses_whatever_names_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = _synced(tmp_path, capsys, "ctl\x1b\x01\x7f<&>\"'.yaml", "new\nline.yaml")
    code, out, _ = run(capsys, "check", "-c", str(world.config), "--format", "junit")
    assert code == 3
    root = ET.fromstring(out.split("?>", 1)[1])
    names = sorted(case.get("name") or "" for case in root.iter("testcase"))
    assert names == ["cat:ctl\\x1b\\x01\x7f<&>\"'.yaml", "cat:new\nline.yaml"]
    code, out, _ = run(capsys, "check", "-c", str(world.config), "--format", "json")
    subjects = sorted(f["subject"] for f in json.loads(out)["findings"])
    assert subjects == ["cat:ctl\x1b\x01\x7f<&>\"'.yaml", "cat:new\nline.yaml"]
