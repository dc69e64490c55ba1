"""The assembler under the emission policy, and duplicates across files (SPEC 4.1, 5.1, 6.1)."""

from __future__ import annotations

import itertools
from dataclasses import replace

from tests.assemble.builders import NOW, component, group, intent, policy, snapshot, system
from trueup.assemble.assembler import assemble
from trueup.assemble.precedence import declared_at
from trueup.model.emission import EmissionPolicy
from trueup.model.observation import Nature, Observation, Provenance
from trueup.model.ref import EntityRef

WORKFLOW = EntityRef.of("workflow", None, "nightly")


def workflow_seen_running() -> Observation:
    """An actual observation of a kind a declarative mapping may produce."""
    return Observation(
        ref=WORKFLOW,
        nature=Nature.ACTUAL,
        provenance=Provenance("clusters", "prod-eu", "prod-eu/argo/Workflow/nightly@5", NOW),
        fields={"metadata.annotations.backstage.io/kubernetes-id": "nightly"},
        place="prod-eu/argo",
    )


def test_an_assembled_entity_of_a_kind_outside_the_policy_is_never_emitted() -> None:
    clusters = snapshot("clusters", "prod-eu", workflow_seen_running())
    result = assemble([clusters], policy(), now=NOW)
    entity = result.entities[WORKFLOW]
    assert not entity.emitted
    assert [f.code for f in entity.findings if f.code == "unsupported-kind"] == ["unsupported-kind"]
    allowed = replace(
        policy(), emission=EmissionPolicy(kinds=("Component", "Workflow"))
    )  # allowed, but no Backstage processor knows the kind: still refused, whole-feed safe
    entity = assemble([clusters], allowed, now=NOW).entities[WORKFLOW]
    assert not entity.emitted
    assert any(
        f.code == "invalid-entity" and "no Backstage processor" in f.message
        for f in entity.findings
    )


def test_the_same_entity_in_two_files_is_a_conflict_naming_both_locators() -> None:
    catalog = snapshot(
        "catalog",
        "catalog",
        intent(group("team-a"), path="groups.yaml"),
        intent(system("shop"), path="systems.yaml"),
        intent(component("payments", owner="team-a"), path="teams/b.yaml"),
        intent(component("payments", owner="team-b"), path="teams/a.yaml"),
    )
    ref = EntityRef.of("component", None, "payments")
    results = [
        assemble(list(order), policy(), now=NOW).entities[ref]
        for order in itertools.permutations([catalog])
    ]
    entity = results[0]
    assert entity.entity["spec"]["owner"] == "team-b"  # teams/a.yaml comes first by path
    (conflict,) = [f for f in entity.findings if "declared" in f.message]
    assert conflict.message == (
        "declared 2 times: catalog@abc:teams/a.yaml#0 wins by path and document order "
        "over catalog@abc:teams/b.yaml#0"
    )
    assert [d["winner"] for d in conflict.evidence["declarations"]] == [True, False]


def test_declarations_order_by_path_then_numeric_document_index() -> None:
    locators = ["repo@1:a.yaml#10", "repo@1:a.yaml#9", "repo@2:a.yaml#2", "repo@1:b.yaml#0"]
    assert sorted(locators, key=declared_at) == [
        "repo@2:a.yaml#2",
        "repo@1:a.yaml#9",
        "repo@1:a.yaml#10",
        "repo@1:b.yaml#0",
    ]
    assert declared_at("prod-eu/shop/Deployment/x@7") == ("prod-eu/shop/Deployment/x@7", -1)
    # A "#" that names no document index (a resource address, a file name) orders by text.
    assert declared_at("payments/aws_db_instance.main#primary") == (
        "payments/aws_db_instance.main#primary",
        -1,
    )
