"""A git source's Location target findings name their rule, as every finding message does."""

from __future__ import annotations

from pathlib import Path

from trueup.model.observation import Snapshot

from .conftest import WorkRepo, location, make_source, read


def test_location_target_messages_end_with_their_rule(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write(
        "catalog-info.yaml",
        location("root", "./gone.yaml", "../outside.yaml"),
        location("far", "./x.yaml", type_="github-org"),
    )
    repo.commit()

    result = read(make_source(str(repo.path)), tmp_path / "data")

    assert isinstance(result, Snapshot)
    assert sorted(f.message for f in result.findings) == [
        "catalog-info.yaml document 0: Location target '../outside.yaml' is outside the "
        "repository [location-target]",
        "catalog-info.yaml document 0: Location target './gone.yaml' does not exist "
        "[location-target]",
        "catalog-info.yaml document 1: Location target './x.yaml' has type 'github-org', "
        "which a git source does not follow [location-target]",
    ]
