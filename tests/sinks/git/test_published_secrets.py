"""What the sinks publish is masked as the feed and ``trueup export`` are (SPEC 10).

Stored rows were redacted when they were written; a secret trueup learns later
(a token added to the configuration, a Terraform sensitive value read by a new
source) must be masked in a sink's files and commits as it is in the feed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sinks.git.conftest import Mirror, WorkRepo, component
from trueup.cli import main

SECRET = "deploy-Key-0123456789abcdef"


def config_file(folder: Path, source: Path, database: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "trueup.yaml"
    path.write_text(
        f"database: sqlite:///{database}\n"
        "sources:\n"
        "  - id: catalog\n"
        "    type: git\n"
        f"    url: {source}\n"
        "checks:\n"
        "  required_fields: {}\n" + extra
    )
    return path


def test_a_secret_learnt_after_an_entity_was_stored_never_reaches_a_sink(
    tmp_path: Path,
    catalog: WorkRepo,
    mirror: Mirror,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    catalog.write("a/catalog-info.yaml", component("a", description=f"uses {SECRET}"))
    catalog.commit("a names a value not yet known as a secret")
    database = tmp_path / "trueup.db"
    first = config_file(tmp_path / "before", catalog.path, database)
    assert main(["sync", "-c", str(first)]) == 0

    # The value becomes a secret trueup knows (a read token), and sinks are configured.
    monkeypatch.setenv("READ_TOKEN", SECRET)
    out = tmp_path / "out"
    second = config_file(
        tmp_path / "after",
        catalog.path,
        database,
        "server:\n  tokens:\n    - {name: backstage, role: read, token: ${READ_TOKEN}}\n"
        f"sinks:\n  - type: directory\n    path: {out}\n"
        f"  - type: git\n    url: {mirror.url}\n",
    )
    assert main(["sync", "-c", str(second)]) == 0
    capsys.readouterr()
    assert main(["export", "-c", str(second)]) == 0
    exported = capsys.readouterr().out
    assert 'description: "uses **********"' in exported  # the feed masks it

    written = (out / "default" / "component" / "a.yaml").read_text()
    assert SECRET not in written
    assert 'description: "uses **********"' in written
    assert not [path for path, text in mirror.files().items() if SECRET in text]


def test_a_mirror_written_before_a_secret_was_known_loses_it_at_the_next_sync(
    tmp_path: Path,
    catalog: WorkRepo,
    mirror: Mirror,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The mirror is planned against every row each time, so the next commit masks it.

    The commit made before the value was a secret stays in the mirror's history:
    the sink never rewrites history (a push is never forced).
    """
    catalog.write("a/catalog-info.yaml", component("a", description=f"uses {SECRET}"))
    catalog.commit("a names a value not yet known as a secret")
    database = tmp_path / "trueup.db"
    sinks = f"sinks:\n  - type: git\n    url: {mirror.url}\n"
    first = config_file(tmp_path / "before", catalog.path, database, sinks)
    assert main(["sync", "-c", str(first)]) == 0
    before = mirror.head()
    assert [path for path, text in mirror.files().items() if SECRET in text] == [
        "default/component/a.yaml"
    ]

    monkeypatch.setenv("READ_TOKEN", SECRET)
    tokens = "server:\n  tokens:\n    - {name: backstage, role: read, token: ${READ_TOKEN}}\n"
    second = config_file(tmp_path / "after", catalog.path, database, tokens + sinks)
    assert main(["sync", "-c", str(second)]) == 0  # nothing changed in the catalog

    assert mirror.head() != before
    assert not [path for path, text in mirror.files().items() if SECRET in text]
    assert 'description: "uses **********"' in mirror.files()["default/component/a.yaml"]
    assert SECRET not in mirror.message()
    assert SECRET in mirror.files(before)["default/component/a.yaml"]  # history keeps it
