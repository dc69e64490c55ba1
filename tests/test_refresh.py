"""Targeted refresh: which scope a pushed repository maps to, and one-scope syncs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sources.git.conftest import NOW, WorkRepo, component
from trueup.config import Config, parse_config
from trueup.errors import ConfigError
from trueup.plugins import registry
from trueup.refresh import refresh_repository, repository_scope
from trueup.store import Store


def config_for(tmp_path: Path, url: str) -> Config:
    text = f"""
database: sqlite:///{tmp_path}/t.db
data_dir: {tmp_path}/data
sources:
  - id: catalog
    type: git
    url: {url}
    branch: main
  - id: gh
    type: github
    org: acme
"""
    return parse_config(text, "trueup.yaml", {}, tmp_path)


def test_repository_scope_maps_urls_and_names(tmp_path: Path) -> None:
    config = config_for(tmp_path, "https://github.com/acme/catalog.git")
    for spelling in (
        "https://github.com/acme/catalog",
        "git@github.com:acme/catalog.git",
        "acme/catalog",
        "catalog@main",
    ):
        assert repository_scope(config, "catalog", spelling) == "catalog@main", spelling
    assert repository_scope(config, "catalog", "acme/other") is None
    assert repository_scope(config, "gh", "acme/never-listed") is None


def test_refresh_reads_only_the_pushed_repository(tmp_path: Path, store: Store) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("catalog-info.yaml", component("a"))
    before = repo.commit()
    config = config_for(tmp_path, str(repo.path))
    try:
        registry().create_source(config.source("catalog"))
    except ConfigError:
        pytest.skip("the git source is not wired into the source registry yet")
    config = config.model_copy(update={"sources": [config.source("catalog")]})
    first = refresh_repository(config, store, "catalog", str(repo.path), now=lambda: NOW)
    assert first is not None and not first.failures
    repo.write("b/catalog-info.yaml", component("b"))
    after = repo.commit()
    outcome = refresh_repository(
        config, store, "catalog", str(repo.path), before=before, after=after, now=lambda: NOW
    )
    assert outcome is not None and not outcome.failures
    (snapshot,) = outcome.snapshots
    assert snapshot.version == after
    assert {o.ref.name for o in snapshot.observations} == {"a", "b"}
    assert refresh_repository(config, store, "catalog", "acme/unrelated") is None
