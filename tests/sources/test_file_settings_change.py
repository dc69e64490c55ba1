"""A change to a file source's settings in ``trueup.yaml`` re-reads what it changes.

A file whose bytes (and placeholder targets) are as last read is kept unparsed
(``files.json``, part fingerprints). ``include`` decides which files are parts
at all, so narrowing it drops a file's entities and widening it reads the
file; ``path`` is in every observation (``backstage.io/source-location``), so a
folder moved and configured at its new place is parsed again. Through the real
pipeline, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sources.conftest import synced
from trueup.config import Config, load_config
from trueup.model import observation
from trueup.model.ref import EntityRef
from trueup.store import Store

SOURCE_LOCATION = "backstage.io/source-location"


def component(name: str) -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata:\n  name: {name}\n"
        "spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )


def configured(tmp_path: Path, folder: Path, include: str) -> Config:
    path = tmp_path / "trueup.yaml"
    path.write_text(
        f"""\
data_dir: {tmp_path / "data"}
sources:
  - id: catalog
    type: file
    path: {folder}
    include: {include}
""",
        encoding="utf-8",
    )
    return load_config(path)


def source_locations(store: Store) -> dict[str, str]:
    """``name -> backstage.io/source-location`` of every current entity."""
    return {
        e.ref.name: e.assembled.entity["metadata"]["annotations"][SOURCE_LOCATION]
        for e in store.entities()
    }


def test_include_patterns_changed_drop_and_read_files(tmp_path: Path, store: Store) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "a.yaml").write_text(component("a"))
    (folder / "b.yml").write_text(component("b"))
    synced(configured(tmp_path, folder, "['*.yaml', '*.yml']"), store, 0)
    assert set(source_locations(store)) == {"a", "b"}

    synced(configured(tmp_path, folder, "['*.yaml']"), store, 1)
    assert set(source_locations(store)) == {"a"}
    gone = store.entity(EntityRef.of("component", None, "b"))
    assert gone is not None and gone.removed

    synced(configured(tmp_path, folder, "['*.yaml', '*.yml']"), store, 2)
    assert set(source_locations(store)) == {"a", "b"}


def test_a_folder_moved_and_configured_there_is_parsed_again(tmp_path: Path, store: Store) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "a.yaml").write_text(component("a"))
    synced(configured(tmp_path, folder, "['*.yaml']"), store, 0)
    assert source_locations(store) == {"a": f"file:{folder}/"}

    moved = folder.rename(tmp_path / "moved")  # the same files, the same lstat
    outcome = synced(configured(tmp_path, moved, "['*.yaml']"), store, 1)

    assert source_locations(store) == {"a": f"file:{moved}/"}
    (read,) = outcome.snapshots
    assert not read.kept
    # read at its new place now: the next sync keeps it
    (again,) = synced(configured(tmp_path, moved, "['*.yaml']"), store, 2).snapshots
    assert again.kept == {"a.yaml"}


def test_new_read_rules_parse_unchanged_files_again(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an upgrade whose parser reads the same bytes differently (``READ_RULES``
    raised), an unchanged file is parsed again, not kept as the old parser read it."""
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "a.yaml").write_text(component("a"))
    synced(configured(tmp_path, folder, "['*.yaml']"), store, 0)
    (kept,) = synced(configured(tmp_path, folder, "['*.yaml']"), store, 1).snapshots
    assert kept.kept == {"a.yaml"}

    monkeypatch.setattr(observation, "READ_RULES", observation.READ_RULES + 1)
    (read,) = synced(configured(tmp_path, folder, "['*.yaml']"), store, 2).snapshots

    assert not read.kept
    assert set(source_locations(store)) == {"a"}
    (again,) = synced(configured(tmp_path, folder, "['*.yaml']"), store, 3).snapshots
    assert again.kept == {"a.yaml"}
