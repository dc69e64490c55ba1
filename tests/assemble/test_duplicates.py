"""One entity declared in two files, and the annotations trueup writes itself (SPEC 4.1, 5.1).

A file source gives each file's declaration its own ``backstage.io/source-location``
(a git source also its ``view-url`` and ``edit-url``): two copies of one entity differ
there by trueup's own making. The duplicate is one ``conflict`` naming both locators;
a conflict on a field is left for a value the declarations really disagree on.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.assemble.builders import NOW, component, deployment, intent, policy, snapshot
from trueup.assemble.assembler import assemble
from trueup.model.assembled import AssembledEntity
from trueup.model.finding import Finding
from trueup.model.observation import Observation, Snapshot
from trueup.model.ref import EntityRef

PAY = EntityRef.of("component", None, "pay")


def declared_in(path: str, *, source: str = "catalog", **spec: Any) -> Observation:
    """``pay`` as a file source reads it from ``path``, with the annotations it adds."""
    obs = intent(component("pay", **spec), source=source, scope=source, path=path)
    folder = path.rpartition("/")[0]
    generated = {
        "metadata.annotations.backstage.io/source-location": f"url:https://git.example.com/{folder}/",
        "metadata.annotations.backstage.io/view-url": f"https://git.example.com/blob/{path}",
        "metadata.annotations.backstage.io/edit-url": f"https://git.example.com/edit/{path}",
    }
    return Observation(obs.ref, obs.nature, obs.provenance, {**obs.fields, **generated})


def assembled(*snapshots: Snapshot) -> AssembledEntity:
    """``pay`` assembled from the snapshots, the same whatever order they come in."""
    results = [
        assemble(list(order), policy(), now=NOW).entities[PAY]
        for order in itertools.permutations(snapshots)
    ]
    assert all(r == results[0] for r in results)
    return results[0]


def conflicts(entity: AssembledEntity) -> list[Finding]:
    return [f for f in entity.findings if f.code == "conflict"]


def test_identical_copies_in_two_files_are_one_conflict_naming_both_files() -> None:
    entity = assembled(
        snapshot(
            "catalog",
            "catalog",
            declared_in("b/catalog-info.yaml"),
            declared_in("a/catalog-info.yaml"),
        )
    )
    assert [f.message for f in conflicts(entity)] == [
        "declared 2 times: catalog@abc:a/catalog-info.yaml#0 wins by path and document order "
        "over catalog@abc:b/catalog-info.yaml#0"
    ]
    annotations = entity.entity["metadata"]["annotations"]
    assert annotations["backstage.io/source-location"] == "url:https://git.example.com/a/"
    assert (
        annotations["backstage.io/edit-url"] == "https://git.example.com/edit/a/catalog-info.yaml"
    )


def test_copies_that_differ_on_a_field_name_both_files_in_that_fields_conflict() -> None:
    entity = assembled(
        snapshot(
            "catalog",
            "catalog",
            declared_in("b/catalog-info.yaml", owner="team-b"),
            declared_in("a/catalog-info.yaml", owner="team-a"),
        )
    )
    (declared, owner) = conflicts(entity)
    assert declared.message.startswith("declared 2 times: catalog@abc:a/catalog-info.yaml#0 wins")
    assert owner.evidence["field"] == "spec.owner"
    assert owner.message == (
        "spec.owner differs between catalog@abc:a/catalog-info.yaml#0 and "
        "catalog@abc:b/catalog-info.yaml#0; showing 'team-a' from catalog@abc:a/catalog-info.yaml#0"
    )


def test_two_sources_that_differ_on_a_field_are_named_as_sources() -> None:
    entity = assembled(
        snapshot("catalog", "catalog", declared_in("a/catalog-info.yaml", owner="team-a")),
        snapshot(
            "other", "other", declared_in("b/catalog-info.yaml", source="other", owner="team-b")
        ),
    )
    assert [f.message for f in conflicts(entity)] == [
        "declared 2 times: catalog@abc:a/catalog-info.yaml#0 wins by precedence "
        "over other@abc:b/catalog-info.yaml#0",
        "sources disagree on spec.owner; showing 'team-a' from catalog",
    ]


@pytest.mark.parametrize(
    "annotation",
    [
        "backstage.io/source-location",
        "backstage.io/view-url",
        "backstage.io/edit-url",
        "backstage.io/managed-by-location",
        "backstage.io/managed-by-origin-location",
        "trueup.io/terraform-address",
        "trueup.io/sources",
    ],
)
def test_an_annotation_trueup_generates_never_makes_a_conflict_by_itself(annotation: str) -> None:
    path = f"metadata.annotations.{annotation}"
    declared = intent(component("pay"))
    declared = Observation(
        declared.ref, declared.nature, declared.provenance, {**declared.fields, path: "declared"}
    )
    running = deployment("pay")
    running = Observation(
        running.ref,
        running.nature,
        running.provenance,
        {**running.fields, path: "observed"},
        place=running.place,
        status=running.status,
        links=running.links,
    )
    other = intent(component("pay"), source="other", scope="other", path="b.yaml")
    other = Observation(other.ref, other.nature, other.provenance, {**other.fields, path: "other"})
    entity = assembled(
        snapshot("catalog", "catalog", declared),
        snapshot("other", "other", other),
        snapshot("clusters", "prod-eu", running),
    )
    assert [f.evidence.get("field") for f in conflicts(entity) if "field" in f.evidence] == []
    assert len(conflicts(entity)) == 1  # the entity declared in two sources
