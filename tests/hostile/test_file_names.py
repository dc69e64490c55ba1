"""A file whose name is not UTF-8 is an ``invalid-file`` finding, never a failed source.

A POSIX file name is bytes; Python gives the bytes that are no UTF-8 as lone
surrogates (``os.fsdecode``, git paths read with ``surrogateescape``), which no
store takes. One such file in a ``file`` source's folder failed the whole
source (``UnicodeEncodeError`` hashing the listing); committed in a ``git``
source's repository it failed the whole sync at its commit. It is skipped with
a finding naming it, its odd bytes shown ``\\xff``; the rest is read as usual.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.hostile.world import T0, World, app, component, owner_of, ref, storable
from tests.sources.git.conftest import WorkRepo
from trueup.config import parse_config
from trueup.model.finding import Finding
from trueup.pipeline import SyncOutcome, sync
from trueup.store import Store


def write_bytes_named(folder: Path, name: bytes, text: str) -> None:
    """Write ``folder/name`` with ``name`` as raw bytes (skip where the file system refuses)."""
    path = os.path.join(os.fsencode(folder), name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:  # e.g. a file system that keeps names as UTF-8 only
        pytest.skip(f"cannot create a file named {name!r}: {error}")


def name_findings(store: Store) -> list[Finding]:
    return [f for f in store.findings() if f.evidence.get("rule") == "file-name"]


def test_a_file_named_with_bytes_that_are_no_utf8_is_a_finding_in_a_file_source(
    world: World, store: Store
) -> None:
    world.write("good.yaml", component("good"))
    write_bytes_named(world.catalog, b"bad\xff.yaml", component("bad"))
    write_bytes_named(world.catalog, b"odd\xfe/svc.yaml", component("svc"))
    outcome = world.sync(store)
    assert outcome.summary is not None
    assert [f.scope for f in outcome.failures if f.source == "catalog"] == []
    assert owner_of(store, "good") == "team-a"
    assert store.entity(ref("bad")) is None and store.entity(ref("svc")) is None
    found = name_findings(store)
    assert [(f.code, f.evidence["path"]) for f in found] == [
        ("invalid-file", "bad\\xff.yaml"),
        ("invalid-file", "odd\\xfe/svc.yaml"),
    ]
    assert str(world.catalog) in found[0].message and "bad\\xff.yaml" in found[0].message
    assert "not UTF-8" in found[0].message and "[file-name]" in found[0].message
    storable(store.findings())

    world.write("good.yaml", component("good", owner="team-b"))  # the rest still updates
    outcome = world.sync(store)
    assert outcome.summary is not None
    assert owner_of(store, "good") == "team-b"
    assert len(name_findings(store)) == 2


def _git_sync(repo: WorkRepo, data: Path, db_url: str, store: Store) -> SyncOutcome:
    text = json.dumps(
        {
            "database": db_url,
            "sources": [
                {"id": "repo", "type": "git", "url": str(repo.path), "include": ["**/*.yaml"]}
            ],
        }
    )
    return sync(parse_config(text, "test.yaml", {}), store, now=lambda: T0, data_dir=data)


def test_a_committed_file_named_with_bytes_that_are_no_utf8_is_a_finding_in_a_git_source(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    repo = WorkRepo(tmp_path / "repo")
    repo.write("catalog-info.yaml", component("good"))
    write_bytes_named(repo.path, b"bad\xff.yaml", component("bad"))
    repo.commit()
    outcome = _git_sync(repo, tmp_path / "data", db_url, store)
    assert outcome.summary is not None  # committed
    assert outcome.failures == []
    assert owner_of(store, "good") == "team-a"
    assert store.entity(ref("bad")) is None
    (found,) = name_findings(store)
    assert found.code == "invalid-file"
    assert found.evidence["path"] == "bad\\xff.yaml"
    assert "bad\\xff.yaml" in found.message and "repository" in found.message
    storable(store.findings())

    # a new head read through the diff: the same finding, the change read
    repo.write("catalog-info.yaml", component("good", owner="team-b"))
    write_bytes_named(repo.path, b"also\xfe.yaml", component("also"))
    repo.commit()
    outcome = _git_sync(repo, tmp_path / "data", db_url, store)
    assert outcome.summary is not None
    assert owner_of(store, "good") == "team-b"
    assert sorted(str(f.evidence["path"]) for f in name_findings(store)) == [
        "also\\xfe.yaml",
        "bad\\xff.yaml",
    ]


def test_an_export_file_named_with_bytes_that_are_no_utf8_fails_its_scope_only(
    world: World, store: Store
) -> None:
    world.export(app("svc", "the shop"))  # exports/prod.json
    write_bytes_named(world.exports, b"bad\xff.json", json.dumps(export_list(app("x", "y"))))
    outcome = world.sync(store)
    assert outcome.summary is not None  # committed
    assert store.entity(ref("svc")) is not None  # the other cluster's export is read
    (failure,) = [f for f in outcome.failures if f.source == "clusters"]
    assert failure.scope == "bad\\xff"
    assert "bad\\xff.json" in failure.message and "not UTF-8" in failure.message
    health = {s.scope: s for s in store.scopes()}
    assert health["bad\\xff"].last_error is not None


def test_a_file_named_with_bytes_that_are_no_utf8_in_an_export_folder_is_a_finding(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    folder = tmp_path / "prod"
    folder.mkdir()
    (folder / "apps.json").write_text(json.dumps(export_list(app("svc", "the shop"))))
    write_bytes_named(folder, b"bad\xff.json", json.dumps(export_list(app("x", "y"))))
    apps = {"name": "apps", "apiVersion": "example.com/v1", "kind": "App", "ref": "metadata.name"}
    source = {"id": "clusters", "type": "kubernetes", "snapshot": str(folder), "mappings": [apps]}
    text = json.dumps({"database": db_url, "sources": [source]})
    config = parse_config(text, "test.yaml", {})

    def read() -> SyncOutcome:
        return sync(config, store, now=lambda: T0, data_dir=tmp_path / "data")

    outcome = read()
    assert outcome.summary is not None and outcome.failures == []
    assert store.entity(ref("svc")) is not None
    assert store.entity(ref("x")) is None
    (found,) = name_findings(store)
    assert found.code == "invalid-file" and found.evidence["path"] == "bad\\xff.json"
    assert str(folder) in found.message
    storable(store.findings())
    assert read().summary is not None  # unchanged: kept, and the finding stands
    assert name_findings(store) == [found]


def export_list(*items: dict[str, object]) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "List", "items": list(items)}
