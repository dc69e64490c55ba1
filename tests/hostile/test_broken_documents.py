"""A YAML syntax error in one document of a catalog file spoils that document only.

libyaml cannot go on after a syntax error, and trueup stopped there: the
documents after a broken one were not read, and no finding said so — a new file
with three entities, the second broken, showed one entity and an error about
the second; the third was silently missing. Backstage reads it (each document
of npm ``yaml``'s ``parseAllDocuments`` stands alone); trueup now does too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run
from tests.hostile.world import COMPONENT, file_world


@pytest.mark.parametrize(
    "broken",
    ["metadata: {name: [broken\n", 'metadata:\n  name: "broken\n', "a: b: c\n"],
    ids=["open-flow", "open-quote", "bad-mapping"],
)
def test_the_documents_after_a_broken_one_are_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], broken: str
) -> None:
    world = file_world(tmp_path)
    first = COMPONENT.format(name="first", description="d", owner="x")
    third = COMPONENT.format(name="third", description="d", owner="x")
    world.write("many.yaml", f"{first}---\n{broken}---\n{third}")
    assert run(capsys, "sync", "-c", str(world.config))[0] == 0
    code, exported, _ = run(capsys, "export", "-c", str(world.config))
    assert code == 0
    assert "name: first" in exported and "name: third" in exported
    _, out, _ = run(capsys, "check", "-c", str(world.config), "--format", "json")
    (found,) = [f for f in json.loads(out)["findings"] if f["subject"] == "cat:many.yaml"]
    assert found["code"] == "invalid-file"
    assert found["evidence"]["document"] == 1 and found["evidence"]["rule"] == "yaml-syntax"
    assert 11 <= found["evidence"]["line"] <= 13  # in the broken document, or at its end
    assert found["message"].startswith("many.yaml: document 1 does not parse (line ")
