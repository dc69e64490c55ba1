"""Truth rule 1 (SPEC 5.1): which source wins a field, pattern by pattern.

The most specific path pattern applies, ``*`` being the default; of two equally
specific patterns the first listed applies; where the configuration says
nothing, intent beats actual for descriptive fields and actual beats intent for
status. Each test makes the rules and the configured source order disagree, so
that only the rule under test can give the expected winner.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.assemble.builders import (
    NOW,
    argo_app,
    catalog_snapshot,
    component,
    deployment,
    group,
    intent,
    policy,
    snapshot,
    system,
)
from trueup.assemble.assembler import AssemblyPolicy, assemble
from trueup.assemble.precedence import Precedence, stable_locator
from trueup.model.assembled import AssembledEntity
from trueup.model.observation import Snapshot
from trueup.model.ref import EntityRef

PAYMENTS = EntityRef.of("component", None, "payments")


def _two_catalogs() -> list[Snapshot]:
    """``catalog`` and ``other`` declare payments with a different owner and lifecycle."""
    catalog = catalog_snapshot(
        group("team-a"),
        group("team-b"),
        system("shop"),
        component("payments", owner="team-a", lifecycle="production"),
    )
    other_doc = component("payments", owner="team-b", lifecycle="experimental")
    other_doc["metadata"]["description"] = "Payments, as the other catalog says"
    other = snapshot("other", "other", intent(other_doc, source="other", scope="other"))
    return [catalog, other]


def _payments(rules: dict[str, list[str]]) -> AssembledEntity:
    return assemble(_two_catalogs(), policy(rules), now=NOW).entities[PAYMENTS]


def _winners(entity: AssembledEntity, *paths: str) -> dict[str, str]:
    return {path: entity.origins[path].winner.provenance.source for path in paths}


def test_a_longer_pattern_beats_the_default_whichever_is_listed_first() -> None:
    rules = {"*": ["other", "catalog"], "spec.*": ["catalog", "other"]}
    entity = _payments(rules)
    assert entity.entity["spec"]["lifecycle"] == "production"  # spec.* applies
    assert entity.entity["spec"]["owner"] == "team-a"
    assert entity.entity["metadata"]["description"] == "Payments, as the other catalog says"
    assert _winners(entity, "spec.owner", "metadata.description") == {
        "spec.owner": "catalog",
        "metadata.description": "other",  # only * matches
    }


def test_any_other_matching_pattern_beats_the_default() -> None:
    """``*`` is the default: it applies only where no other pattern matches."""
    rules = {"*": ["other", "catalog"], "*.owner": ["catalog", "other"]}
    entity = _payments(rules)
    assert entity.entity["spec"]["owner"] == "team-a"  # *.owner
    assert entity.entity["spec"]["lifecycle"] == "experimental"  # *


def test_a_longer_literal_prefix_is_more_specific() -> None:
    rules = {"*.owner": ["other", "catalog"], "spec.*": ["catalog", "other"]}
    assert _payments(rules).entity["spec"]["owner"] == "team-a"  # spec.* (prefix "spec.")


def test_an_exact_path_beats_every_pattern() -> None:
    rules = {"spec.owner": ["other"], "spec.*": ["catalog", "other"], "*": ["catalog"]}
    entity = _payments(rules)
    assert entity.entity["spec"]["owner"] == "team-b"
    assert entity.entity["spec"]["lifecycle"] == "production"


def test_an_exact_path_beats_a_glob_as_long_listed_before_it() -> None:
    rules = {"spec.owner*": ["catalog", "other"], "spec.owner": ["other", "catalog"]}
    assert _payments(rules).entity["spec"]["owner"] == "team-b"


@pytest.mark.parametrize(
    ("rules", "owner"),
    [
        ({"spec.*": ["catalog", "other"], "spec.*owner": ["other", "catalog"]}, "team-a"),
        ({"spec.*owner": ["other", "catalog"], "spec.*": ["catalog", "other"]}, "team-b"),
    ],
)
def test_of_two_equally_specific_patterns_the_first_listed_applies(
    rules: dict[str, list[str]], owner: str
) -> None:
    assert _payments(rules).entity["spec"]["owner"] == owner


def test_the_order_a_path_gets_is_the_applying_patterns_list() -> None:
    precedence = Precedence(
        {"*": ["c"], "spec.*": ["b", "c"], "spec.owner": ["a"], "*.name": ["d"]},
        ["a", "b", "c", "d"],
    )
    assert precedence.order("spec.owner") == ("a",)
    assert precedence.order("spec.system") == ("b", "c")
    assert precedence.order("metadata.name") == ("d",)
    assert precedence.order("metadata.description") == ("c",)
    assert Precedence({"spec.*": ["b"]}, ["b"]).order("metadata.description") == ()


# --- where the configuration says nothing ---------------------------------------------------


def _intent_and_actual(actual_first: AssemblyPolicy) -> AssembledEntity:
    """payments declared by ``catalog`` and seen running, with other values, by ``clusters``."""
    declared = component("payments", owner="team-a", lifecycle="production", system="shop")
    catalog = catalog_snapshot(group("team-a"), group("team-b"), system("shop"), declared)
    running = deployment("payments")
    seen = {
        "spec.owner": "team-b",
        "spec.lifecycle": "experimental",
        "spec.system": "labs",
        "metadata.description": "What the cluster says",
    }
    clusters = snapshot("clusters", "prod-eu", replace(running, fields={**running.fields, **seen}))
    return assemble([clusters, catalog], actual_first, now=NOW).entities[PAYMENTS]


@pytest.mark.parametrize(
    "rules",
    [{}, {"*": ["elsewhere"]}, {"spec.*": ["elsewhere"], "metadata.*": ["elsewhere"]}],
    ids=["no rules", "default lists neither", "patterns list neither"],
)
def test_intent_beats_actual_for_descriptive_fields_even_when_actual_is_configured_first(
    rules: dict[str, list[str]],
) -> None:
    unlisted = policy(rules, sources=("clusters", "other", "catalog"))
    entity = _intent_and_actual(unlisted)
    assert entity.entity["spec"]["owner"] == "team-a"
    assert entity.entity["spec"]["lifecycle"] == "production"
    assert entity.entity["spec"]["system"] == "shop"
    assert entity.entity["metadata"]["description"] == "The payments service"
    conflicts = {f.evidence["field"] for f in entity.findings if f.code == "conflict"}
    assert conflicts == {
        "spec.owner",
        "spec.lifecycle",
        "spec.system",
        "metadata.description",
    }


def test_a_listed_source_beats_unlisted_ones_of_either_nature() -> None:
    entity = _intent_and_actual(policy({"spec.owner": ["clusters"]}))
    assert entity.entity["spec"]["owner"] == "team-b"
    assert entity.entity["spec"]["lifecycle"] == "production"


def test_actual_beats_intent_for_status_even_when_intent_is_configured_first() -> None:
    declared = component("payments")
    declared["metadata"]["annotations"] = {
        "trueup.io/argocd-health": "Healthy",
        "trueup.io/argocd-sync": "Synced",
        "trueup.io/replicas": "3/3",
    }
    catalog = catalog_snapshot(group("team-a"), system("shop"), declared)
    clusters = snapshot(
        "clusters",
        "prod-eu",
        argo_app("payments", health="Degraded", sync="OutOfSync"),
        deployment("payments", replicas="1/3"),
    )
    intent_first = policy({"*": ["catalog", "clusters"]}, sources=("catalog", "clusters"))
    entity = assemble([catalog, clusters], intent_first, now=NOW).entities[PAYMENTS]
    notes = entity.entity["metadata"]["annotations"]
    assert notes["trueup.io/argocd-health"] == "Degraded"
    assert notes["trueup.io/argocd-sync"] == "OutOfSync"
    assert notes["trueup.io/replicas"] == "1/3"
    assert "metadata.annotations.trueup.io/argocd-health" not in entity.origins


# --- ties inside one source: where it is declared, never the version it was read at ---------


@pytest.mark.parametrize(
    ("locator", "stable"),
    [
        ("catalog@0123456789ab:teams/payments.yaml#1", "teams/payments.yaml#1"),
        ("shop@0123456789ab:catalog-info.yaml#0", "catalog-info.yaml#0"),
        ("prod-eu/shop/Deployment/payments@4711", "prod-eu/shop/Deployment/payments@4711"),
        ("prod-eu/shop/Deployment/payments", "prod-eu/shop/Deployment/payments"),
        (
            "kubernetes-admin@kind/shop/Deployment/payments@12",
            "kubernetes-admin@kind/shop/Deployment/payments@12",
        ),
        (
            "arn:aws:eks:eu-west-1:111122223333:cluster/prod/shop/Deployment/payments@9",
            "arn:aws:eks:eu-west-1:111122223333:cluster/prod/shop/Deployment/payments@9",
        ),
        ("state 6b1c/41:aws_db_instance.main", "state 6b1c/41:aws_db_instance.main"),
    ],
    ids=["file", "git", "cluster", "cluster-no-version", "context-with-at", "eks-arn", "terraform"],
)
def test_only_a_source_version_prefix_is_dropped_from_a_locator(locator: str, stable: str) -> None:
    assert stable_locator(locator) == stable
