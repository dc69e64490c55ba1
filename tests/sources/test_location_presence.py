"""``spec.presence: optional``: a Location's target that is not there is no problem.

Backstage's processors skip a missing target of an optional Location without an error
(the target may appear later); a required one (the default) is an error there and a
finding here. Only the absence is forgiven: a target outside the root is reported
whatever the presence.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.sources.conftest import synced
from tests.sources.git.conftest import WorkRepo, make_source, read
from trueup.config import Config, load_config
from trueup.model.observation import Snapshot
from trueup.model.ref import EntityRef
from trueup.sources.base import ReadContext
from trueup.sources.file import FileSource
from trueup.sources.file.config import FileSourceConfig
from trueup.store import Store

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
COMPONENT = (
    "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: there\n"
    "spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
)


def location(presence: str | None, *targets: str) -> str:
    listed = "".join(f"    - '{t}'\n" for t in targets)
    presence_line = f"  presence: {presence}\n" if presence else ""
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: root\n"
        f"spec:\n{presence_line}  targets:\n{listed}"
    )


THERE = EntityRef.of("component", None, "there")


def configured(tmp_path: Path, folder: Path) -> Config:
    path = tmp_path / "trueup.yaml"
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\nsources:\n"
        f"  - {{id: catalog, type: file, path: {folder}, include: [catalog-info.yaml]}}\n",
        encoding="utf-8",
    )
    return load_config(path)


TARGETS = ("./there.yaml", "./gone.yaml", "./later/**/catalog-info.yaml", "../outside.yaml")


def _file_read(tmp_path: Path, presence: str | None) -> Snapshot:
    root = tmp_path / "catalog"
    root.mkdir()
    (root / "catalog-info.yaml").write_text(location(presence, *TARGETS))
    (root / "there.yaml").write_text(COMPONENT)
    config = FileSourceConfig(
        id="catalog", type="file", path=str(root), include=["catalog-info.yaml"]
    )
    (snap,) = FileSource(config).observe(ReadContext(now=lambda: NOW))
    assert isinstance(snap, Snapshot)
    return snap


@pytest.mark.parametrize(
    ("presence", "reasons"),
    [
        (None, ["does not exist", "is outside the folder", "matches no file"]),
        ("required", ["does not exist", "is outside the folder", "matches no file"]),
        ("optional", ["is outside the folder"]),
    ],
)
def test_a_file_source_forgives_only_the_absence_of_an_optional_target(
    tmp_path: Path, presence: str | None, reasons: list[str]
) -> None:
    snap = _file_read(tmp_path, presence)
    assert "component:default/there" in {str(o.ref) for o in snap.observations}
    found = sorted(str(f.evidence["reason"]).split(" /")[0] for f in snap.findings)
    assert found == reasons


@pytest.mark.parametrize(("presence", "missing"), [(None, True), ("optional", False)])
def test_a_git_source_forgives_the_absence_of_an_optional_target(
    tmp_path: Path, presence: str | None, missing: bool
) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("catalog-info.yaml", location(presence, "./there.yaml", "./gone.yaml"))
    repo.write("there.yaml", COMPONENT)
    repo.commit()
    result = read(make_source(str(repo.path), include=["catalog-info.yaml"]), tmp_path / "data")
    assert isinstance(result, Snapshot)
    assert "component:default/there" in {str(o.ref) for o in result.observations}
    reasons = [f.evidence.get("reason") for f in result.findings]
    assert ("does not exist" in reasons) is missing


def test_an_optional_target_that_appears_later_is_followed(tmp_path: Path, store: Store) -> None:
    root = tmp_path / "catalog"
    root.mkdir()
    (root / "catalog-info.yaml").write_text(location("optional", "./later.yaml"))
    config = configured(tmp_path, root)
    synced(config, store, 0)
    assert [f.message for f in store.findings() if f.code == "invalid-file"] == []
    assert store.entity(THERE) is None
    (root / "later.yaml").write_text(COMPONENT)
    synced(config, store, 5)
    assert store.entity(THERE) is not None
