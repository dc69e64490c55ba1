"""Removal needs proof (SPEC 5.4) in a file source whose catalog is mostly Location entities.

Locations are followed, never served: the share that ``max_removal_ratio``
bounds is one of the scope's entities, on the incremental path and on the
reference path alike. Real files, a real database.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trueup.config import parse_config
from trueup.pipeline import SyncOutcome, sync
from trueup.store import Store

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
TEAMS = [f"team-{i}" for i in range(6)]


def _component(name: str) -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata: {{name: {name}}}\n"
        "spec: {type: service, lifecycle: production, owner: team-a}\n"
    )


def _locations(teams: list[str]) -> str:
    return "---\n".join(
        "apiVersion: backstage.io/v1alpha1\nkind: Location\n"
        f"metadata: {{name: {team}}}\n"
        f"spec: {{type: file, target: ./teams/{team}.yaml}}\n"
        for team in teams
    )


class Catalog:
    """A folder whose ``all.yaml`` lists one Location per team file."""

    def __init__(self, root: Path, db_url: str) -> None:
        self.root = root
        self.folder = root / "catalog"
        (self.folder / "teams").mkdir(parents=True)
        self.db_url = db_url
        (self.folder / "all.yaml").write_text(_locations(TEAMS))
        for team in TEAMS:
            (self.folder / "teams" / f"{team}.yaml").write_text(_component(f"{team}-svc"))

    def sync(
        self, store: Store, *, ratio: float, include: list[str], from_scratch: bool
    ) -> SyncOutcome:
        text = json.dumps(
            {
                "database": self.db_url,
                "sources": [
                    {"id": "catalog", "type": "file", "path": str(self.folder), "include": include}
                ],
                "safety": {"max_removal_ratio": ratio},
            }
        )
        clock: Callable[[], datetime] = lambda: T0  # noqa: E731
        config = parse_config(text, "test.yaml", {}, self.root)
        return sync(config, store, now=clock, from_scratch=from_scratch)


def _served(store: Store) -> set[str]:
    return {e.ref.name for e in store.entities() if not e.removed}


@pytest.mark.parametrize("from_scratch", [False, True], ids=["incremental", "reference"])
def test_locations_do_not_hide_a_mass_removal_of_entities(
    tmp_path: Path, db_url: str, store: Store, from_scratch: bool
) -> None:
    catalog = Catalog(tmp_path, db_url)
    include = ["all.yaml"]
    catalog.sync(store, ratio=0.5, include=include, from_scratch=from_scratch)
    assert _served(store) == {f"{team}-svc" for team in TEAMS}
    for team in TEAMS[1:]:  # 5 of the 6 Components go; the 6 Locations stay
        (catalog.folder / "teams" / f"{team}.yaml").write_text("# moved elsewhere\n")
    outcome = catalog.sync(store, ratio=0.5, include=include, from_scratch=from_scratch)
    assert outcome.held == {("catalog", "catalog"): 5}
    assert _served(store) == {f"{team}-svc" for team in TEAMS}  # nothing removed while held
    (held,) = [
        f for f in store.findings() if f.code == "removal-held" and f.subject.startswith("scope:")
    ]
    assert "would remove 5 of 6 entities (83%" in held.message


@pytest.mark.parametrize("from_scratch", [False, True], ids=["incremental", "reference"])
def test_locations_that_go_while_their_entities_stay_hold_nothing(
    tmp_path: Path, db_url: str, store: Store, from_scratch: bool
) -> None:
    catalog = Catalog(tmp_path, db_url)
    include = ["all.yaml", "teams/*.yaml"]
    catalog.sync(store, ratio=0.4, include=include, from_scratch=from_scratch)
    (catalog.folder / "all.yaml").write_text("# the globs find the team files now\n")
    outcome = catalog.sync(store, ratio=0.4, include=include, from_scratch=from_scratch)
    assert outcome.held == {}
    assert _served(store) == {f"{team}-svc" for team in TEAMS}
    assert "removal-held" not in {f.code for f in store.findings()}


@pytest.mark.parametrize("from_scratch", [False, True], ids=["incremental", "reference"])
def test_a_read_left_with_only_locations_returned_nothing(
    tmp_path: Path, db_url: str, store: Store, from_scratch: bool
) -> None:
    catalog = Catalog(tmp_path, db_url)
    include = ["all.yaml"]
    catalog.sync(store, ratio=1.0, include=include, from_scratch=from_scratch)
    for team in TEAMS:
        (catalog.folder / "teams" / f"{team}.yaml").write_text("# moved elsewhere\n")
    outcome = catalog.sync(store, ratio=1.0, include=include, from_scratch=from_scratch)
    assert outcome.held == {("catalog", "catalog"): 6}
    assert _served(store) == {f"{team}-svc" for team in TEAMS}
    (held,) = [
        f for f in store.findings() if f.code == "removal-held" and f.subject.startswith("scope:")
    ]
    assert "the read returned nothing where there were entities" in held.message
