"""The mirror plan, pure: layout, what counts as trueup's file, re-reads that are no change."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import yaml

from trueup.feed import FeedRow
from trueup.model.emission import DEFAULT_POLICY
from trueup.model.ref import EntityRef
from trueup.sinks.git.plan import (
    LOCATION_FILE,
    RemovalRule,
    blob_id,
    entity_of,
    entity_path,
    is_managed,
    location_document,
    plan_mirror,
)

DOC = (
    "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n"
    "  annotations:\n    trueup.io/observed-at: '{at}'\n    trueup.io/sources: catalog\n"
    "spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
)


def row(name: str, at: str = "2026-06-01T12:00:00+00:00", ref_name: str | None = None) -> FeedRow:
    return FeedRow(
        EntityRef.of("Component", "Default", ref_name or name),
        "h",
        DOC.format(name=name, at=at),
        "{}",
    )


def no_read(paths: Collection[str]) -> Mapping[str, bytes]:
    raise AssertionError(f"nothing should be read, asked for {sorted(paths)}")


def test_layout_is_lower_case_and_only_entity_paths_are_trueups() -> None:
    assert entity_path(EntityRef.of("Component", "Billing", "Payments")) == (
        "billing/component/payments.yaml"
    )
    assert entity_of("billing/component/payments.yaml") == EntityRef(
        "component", "billing", "payments"
    )
    assert is_managed(LOCATION_FILE) and is_managed("default/api/orders.yaml")
    for other in (".github/workflows/ci.yaml", "README.md", "docs/a/b/c.yaml", "a/b.yaml"):
        assert not is_managed(other), other


def test_the_location_is_a_valid_location_with_relative_targets() -> None:
    text = location_document("trueup-hydrated", ["default/component/b.yaml", "x/api/a.yaml"])
    document = yaml.safe_load(text)
    assert document == {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {
            "name": "trueup-hydrated",
            "description": "Entities hydrated by trueup, one file each",
        },
        "spec": {"targets": ["./default/component/b.yaml", "./x/api/a.yaml"]},
    }
    assert DEFAULT_POLICY.recognised(document) == []


def test_a_re_read_that_only_moves_observed_at_changes_nothing() -> None:
    first = plan_mirror([row("a")], None, {}, no_read, location_name="m", removals=RemovalRule())
    tree = {path: blob_id(content or b"") for path, content in first.changes.items()}
    later = row("a", at="2026-06-02T08:00:00+00:00")

    def read(paths: Collection[str]) -> Mapping[str, bytes]:
        return {path: first.changes[path] or b"" for path in paths}

    again = plan_mirror([later], "h1", tree, read, location_name="m", removals=RemovalRule())

    assert again.empty and again.unchanged == 1 and again.changed == ()


def test_a_rerun_with_the_same_bytes_reads_no_file() -> None:
    first = plan_mirror(
        [row("a"), row("b")], None, {}, no_read, location_name="m", removals=RemovalRule()
    )
    tree = {path: blob_id(content or b"") for path, content in first.changes.items()}
    again = plan_mirror(
        [row("a"), row("b")], "h1", tree, no_read, location_name="m", removals=RemovalRule()
    )
    assert again.empty and again.unchanged == 2


def test_everything_gone_is_held_even_below_the_ratio() -> None:
    tree = {"default/component/a.yaml": "1" * 40, LOCATION_FILE: "2" * 40}
    plan = plan_mirror([], "h", tree, no_read, location_name="m", removals=RemovalRule(1.0))
    assert plan.held == (EntityRef("component", "default", "a"),)
    assert plan.hold_reason == "the hydration holds no entity where the mirror has some"
    assert "default/component/a.yaml" not in plan.changes
