"""A file source's Location target findings name their rule, as every finding message does."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from trueup.model.observation import Snapshot
from trueup.sources.base import ReadContext
from trueup.sources.file import FileSource
from trueup.sources.file.config import FileSourceConfig

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def location(name: str, target: str, type_: str | None = None) -> str:
    kind_line = f"  type: {type_}\n" if type_ else ""
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Location\n"
        f"metadata:\n  name: {name}\nspec:\n{kind_line}  target: '{target}'\n"
    )


def test_location_target_messages_end_with_their_rule(tmp_path: Path) -> None:
    (tmp_path / "catalog-info.yaml").write_text(
        location("root", "./gone.yaml")
        + "---\n"
        + location("far", "https://x.test/c.yaml", type_="url")
        + "---\n"
        + location("self", "./catalog-info.yaml")
    )
    config = FileSourceConfig(id="catalog", type="file", path=str(tmp_path))
    (snap,) = FileSource(config).observe(ReadContext(now=lambda: NOW))
    assert isinstance(snap, Snapshot)

    found = sorted((f.message, f.evidence["rule"]) for f in snap.findings)

    assert found == [
        (
            "catalog-info.yaml document 0: Location target './gone.yaml' does not exist "
            "[location-target]",
            "location-target",
        ),
        (
            "catalog-info.yaml document 1: Location target 'https://x.test/c.yaml' has type "
            "'url', which a file source does not follow [location-target]",
            "location-target",
        ),
        (
            "catalog-info.yaml document 2: Location target './catalog-info.yaml' forms a loop "
            "back to catalog-info.yaml [location-target]",
            "location-target",
        ),
    ]
