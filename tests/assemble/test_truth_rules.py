"""One test (or more) per truth rule of SPEC section 5; each fails if its rule breaks."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

import pytest

from tests.assemble.builders import (
    NOW,
    argo_app,
    component,
    deployment,
    group,
    intent,
    policy,
    snapshot,
    system,
)
from trueup.assemble.assembler import ScopeState, assemble
from trueup.assemble.guard import guard_removals
from trueup.model.assembled import AssembledEntity, AssemblyResult
from trueup.model.observation import Nature
from trueup.model.ref import EntityRef

PAYMENTS = EntityRef.of("component", None, "payments")


def base_catalog(*extra: dict[str, object], source: str = "catalog") -> list:  # type: ignore[type-arg]
    docs = [group("team-a"), group("team-b"), system("shop"), *extra]
    return [intent(d, source=source, scope=source, path=f"{i}.yaml") for i, d in enumerate(docs)]


def one(result: AssemblyResult, ref: EntityRef = PAYMENTS) -> AssembledEntity:
    return result.entities[ref]


def codes(entity: AssembledEntity) -> list[str]:
    return [f.code for f in entity.findings]


def annotations_of(entity: AssembledEntity) -> dict[str, str]:
    return dict(entity.entity["metadata"]["annotations"])


# --- rule 1: precedence and conflicts ----------------------------------------------


def test_configured_precedence_decides_and_conflict_lists_every_candidate() -> None:
    catalog = snapshot("catalog", "catalog", *base_catalog(component("payments", owner="team-a")))
    other = snapshot(
        "other",
        "other",
        intent(component("payments", owner="team-b"), source="other", scope="other"),
    )
    result = assemble([catalog, other], policy({"spec.owner": ["other", "catalog"]}), now=NOW)
    entity = one(result)
    assert entity.entity["spec"]["owner"] == "team-b"
    origin = entity.origins["spec.owner"]
    assert origin.winner.provenance.source == "other"
    assert [c.value for c in origin.losers] == ["team-a"]
    conflict = [
        f
        for f in entity.findings
        if f.code == "conflict" and f.evidence.get("field") == "spec.owner"
    ]
    assert len(conflict) == 1
    assert {c["value"] for c in conflict[0].evidence["candidates"]} == {"team-a", "team-b"}


def test_most_specific_pattern_applies() -> None:
    catalog = snapshot(
        "catalog",
        "catalog",
        *base_catalog(component("payments", owner="team-a", lifecycle="production")),
    )
    other = snapshot(
        "other",
        "other",
        intent(
            component("payments", owner="team-b", lifecycle="experimental"),
            source="other",
            scope="other",
        ),
    )
    rules = {"*": ["catalog", "other"], "spec.*": ["catalog", "other"], "spec.owner": ["other"]}
    entity = one(assemble([catalog, other], policy(rules), now=NOW))
    assert entity.entity["spec"]["owner"] == "team-b"  # exact path beats the globs
    assert entity.entity["spec"]["lifecycle"] == "production"  # spec.* beats *


def test_default_intent_beats_actual_for_descriptive_fields() -> None:
    catalog = snapshot("catalog", "catalog", *base_catalog(component("payments", owner="team-a")))
    running = deployment("payments")

    labelled = replace(running, fields={**running.fields, "spec.owner": "team-b"})
    clusters = snapshot("clusters", "prod-eu", labelled)
    entity = one(assemble([clusters, catalog], policy(), now=NOW))
    assert entity.entity["spec"]["owner"] == "team-a"
    assert "conflict" in codes(entity)


def test_same_ref_declared_twice_is_a_conflict_resolved_by_precedence_not_read_order() -> None:
    a = snapshot("catalog", "catalog", *base_catalog(component("MyService", owner="team-a")))
    b = snapshot(
        "other",
        "other",
        intent(component("myservice", owner="team-b"), source="other", scope="other"),
    )
    ref = EntityRef.of("Component", "default", "myservice")
    results = [
        one(assemble(list(order), policy({"*": ["other", "catalog"]}), now=NOW), ref)
        for order in itertools.permutations([a, b])
    ]
    assert results[0] == results[1]
    entity = results[0]
    assert entity.entity["metadata"]["name"] == "myservice"
    assert entity.entity["spec"]["owner"] == "team-b"
    assert any(f.code == "conflict" and "declared 2 times" in f.message for f in entity.findings)


# --- rule 2: status is per place -----------------------------------------------------


def test_status_is_per_place_and_the_entity_shows_the_worst() -> None:
    catalog = snapshot("catalog", "catalog", *base_catalog(component("payments")))
    eu = snapshot("clusters", "prod-eu", argo_app("payments", health="Healthy", scope="prod-eu"))
    us = snapshot(
        "clusters",
        "prod-us",
        argo_app("payments", health="Degraded", sync="OutOfSync", scope="prod-us"),
    )
    ap = snapshot(
        "clusters", "prod-ap", argo_app("payments", health="Progressing", scope="prod-ap")
    )
    entity = one(assemble([catalog, eu, us, ap], policy(), now=NOW))
    health = {p.place: p.value for p in entity.places if p.key == "argocd-health"}
    assert health == {
        "prod-eu/in-cluster/payments": "Healthy",
        "prod-us/in-cluster/payments": "Degraded",
        "prod-ap/in-cluster/payments": "Progressing",
    }
    assert annotations_of(entity)["trueup.io/argocd-health"] == "Degraded"
    assert annotations_of(entity)["trueup.io/argocd-sync"] == "OutOfSync"
    assert "drift" in codes(entity)


@pytest.mark.parametrize(
    ("healths", "expected"),
    [
        (["Healthy", "Suspended"], "Suspended"),
        (["Suspended", "Progressing"], "Progressing"),
        (["Progressing", "Missing"], "Missing"),
        (["Missing", "Degraded"], "Degraded"),
        (["Degraded", "Unknown"], "Unknown"),
        (["Healthy", "Unknown"], "Unknown"),
    ],
)
def test_health_order(healths: list[str], expected: str) -> None:
    catalog = snapshot("catalog", "catalog", *base_catalog(component("payments")))
    places = [
        snapshot("clusters", f"c{i}", argo_app("payments", health=h, scope=f"c{i}"))
        for i, h in enumerate(healths)
    ]
    entity = one(assemble([catalog, *places], policy(), now=NOW))
    assert annotations_of(entity)["trueup.io/argocd-health"] == expected


def test_a_stale_place_makes_the_aggregate_unknown() -> None:
    catalog = snapshot("catalog", "catalog", *base_catalog(component("payments")))
    fresh = snapshot("clusters", "prod-eu", argo_app("payments", scope="prod-eu"))
    old = snapshot(
        "clusters", "prod-us", argo_app("payments", scope="prod-us", age=timedelta(hours=2))
    )
    entity = one(assemble([catalog, fresh, old], policy(), now=NOW))
    assert annotations_of(entity)["trueup.io/argocd-health"] == "Unknown"
    assert annotations_of(entity)["trueup.io/argocd-sync"] == "Unknown"


def test_replicas_show_the_worst_place() -> None:
    catalog = snapshot("catalog", "catalog", *base_catalog(component("payments")))
    eu = snapshot("clusters", "prod-eu", deployment("payments", scope="prod-eu", replicas="3/3"))
    us = snapshot("clusters", "prod-us", deployment("payments", scope="prod-us", replicas="1/4"))
    entity = one(assemble([catalog, eu, us], policy(), now=NOW))
    assert annotations_of(entity)["trueup.io/replicas"] == "1/4"


# --- rule 3: freshness and unknown values --------------------------------------------


def test_status_older_than_max_age_is_unknown_and_last_known_is_kept() -> None:
    catalog = snapshot("catalog", "catalog", *base_catalog(component("payments")))
    old = snapshot("clusters", "prod-eu", argo_app("payments", age=timedelta(minutes=16)))
    entity = one(assemble([catalog, old], policy(max_age=timedelta(minutes=15)), now=NOW))
    health = next(p for p in entity.places if p.key == "argocd-health")
    assert (health.value, health.last_known, health.stale) == ("Unknown", "Healthy", True)
    assert annotations_of(entity)["trueup.io/argocd-health"] == "Unknown"
    assert "stale" in codes(entity)


def test_status_just_inside_max_age_is_shown() -> None:
    catalog = snapshot("catalog", "catalog", *base_catalog(component("payments")))
    recent = snapshot("clusters", "prod-eu", argo_app("payments", age=timedelta(minutes=15)))
    entity = one(assemble([catalog, recent], policy(max_age=timedelta(minutes=15)), now=NOW))
    assert annotations_of(entity)["trueup.io/argocd-health"] == "Healthy"
    assert "stale" not in codes(entity)


@pytest.mark.parametrize("raw", ["", "Paused", "healthy", "HEALTHY"])
def test_missing_or_unrecognised_status_is_unknown_never_healthy(raw: str) -> None:
    catalog = snapshot("catalog", "catalog", *base_catalog(component("payments")))
    app = snapshot("clusters", "prod-eu", argo_app("payments", health=raw, sync=raw))
    entity = one(assemble([catalog, app], policy(), now=NOW))
    assert annotations_of(entity)["trueup.io/argocd-health"] == "Unknown"
    assert annotations_of(entity)["trueup.io/argocd-sync"] == "Unknown"
    health = next(p for p in entity.places if p.key == "argocd-health")
    assert health.last_known == raw


# --- rule 4: removal needs proof ---------------------------------------------------------


def _scope_of(n: int, *, prefix: str = "svc") -> object:
    return snapshot(
        "catalog",
        "catalog",
        *[intent(component(f"{prefix}-{i}"), path=f"{i}.yaml") for i in range(n)],
    )


def test_removing_more_than_the_ratio_is_held() -> None:
    before = _scope_of(10)
    after = snapshot("catalog", "catalog", *before.observations[:4])  # type: ignore[attr-defined]
    outcome = guard_removals(before, after, max_ratio=0.5, accepted=False)  # type: ignore[arg-type]
    assert len(outcome.held) == 6
    assert outcome.snapshot.refs == before.refs  # type: ignore[attr-defined]
    assert outcome.finding is not None and outcome.finding.code == "removal-held"


def test_removing_up_to_the_ratio_is_allowed() -> None:
    before = _scope_of(10)
    after = snapshot("catalog", "catalog", *before.observations[:5])  # type: ignore[attr-defined]
    outcome = guard_removals(before, after, max_ratio=0.5, accepted=False)  # type: ignore[arg-type]
    assert not outcome.held and outcome.finding is None
    assert len(outcome.snapshot.refs) == 5


def test_an_empty_read_after_a_non_empty_one_is_held_even_with_ratio_one() -> None:
    before = _scope_of(3)
    after = snapshot("catalog", "catalog", nature=Nature.INTENT)
    outcome = guard_removals(before, after, max_ratio=1.0, accepted=False)  # type: ignore[arg-type]
    assert len(outcome.held) == 3
    assert outcome.finding is not None and "nothing" in outcome.finding.message


def test_accepted_removals_take_effect() -> None:
    before = _scope_of(10)
    after = snapshot("catalog", "catalog", nature=Nature.INTENT)
    outcome = guard_removals(before, after, max_ratio=0.5, accepted=True)  # type: ignore[arg-type]
    assert not outcome.held and not outcome.snapshot.observations


def test_held_entities_carry_a_removal_held_finding() -> None:
    catalog = snapshot("catalog", "catalog", *base_catalog(component("payments")))
    scopes = ScopeState(held={("catalog", "catalog"): frozenset({PAYMENTS})})
    entity = one(assemble([catalog], policy(), now=NOW, scopes=scopes))
    assert "removal-held" in codes(entity)


def test_entities_from_a_failed_scope_say_so() -> None:
    catalog = snapshot("catalog", "catalog", *base_catalog(component("payments")))
    app = snapshot("clusters", "prod-eu", argo_app("payments"))
    scopes = ScopeState(failed={("clusters", "prod-eu"): "unreachable: connection reset"})
    entity = one(assemble([catalog, app], policy(), now=NOW, scopes=scopes))
    assert "source-failed" in codes(entity)
    # the last good status is still shown while fresh
    assert annotations_of(entity)["trueup.io/argocd-health"] == "Healthy"


# --- rule 5: entities without intent ------------------------------------------------------


def test_running_but_undeclared_is_kept_as_discovered() -> None:
    catalog = snapshot("catalog", "catalog", *base_catalog())
    clusters = snapshot("clusters", "prod-eu", deployment("ghost"), argo_app("ghost"))
    entity = one(
        assemble([catalog, clusters], policy(), now=NOW), EntityRef.of("component", None, "ghost")
    )
    assert entity.discovered and entity.emitted
    assert annotations_of(entity)["trueup.io/discovered"] == "true"
    assert "undeclared" in codes(entity)
    assert entity.entity["metadata"]["name"] == "ghost"


def test_a_discovered_entity_assembled_again_later_is_the_same() -> None:
    """Its envelope's defaults are as old as the observations that found it, not the
    assembly: an entity assembled again for another reason keeps its stored document."""
    catalog = snapshot("catalog", "catalog", *base_catalog())
    clusters = snapshot("clusters", "prod-eu", deployment("ghost"), argo_app("ghost"))
    ghost = EntityRef.of("component", None, "ghost")
    first = one(assemble([catalog, clusters], policy(), now=NOW), ghost)
    later = one(assemble([catalog, clusters], policy(), now=NOW + timedelta(minutes=5)), ghost)
    assert later.to_stored() == first.to_stored()


def test_declared_entity_is_not_discovered_and_linked_by_annotation() -> None:
    doc = component("payments-api")
    doc["metadata"]["annotations"] = {"argocd/app-name": "payments-prod"}
    catalog = snapshot("catalog", "catalog", *base_catalog(doc))
    clusters = snapshot("clusters", "prod-eu", argo_app("payments-prod", health="Degraded"))
    result = assemble([catalog, clusters], policy(), now=NOW)
    entity = one(result, EntityRef.of("component", None, "payments-api"))
    assert not entity.discovered
    assert annotations_of(entity)["trueup.io/argocd-health"] == "Degraded"
    assert EntityRef.of("component", None, "payments-prod") not in result.entities


def test_app_selector_links_by_labels_and_suppresses_app_name() -> None:
    doc = component("payments")
    doc["metadata"]["annotations"] = {"argocd/app-selector": "team=pay,env=prod"}
    catalog = snapshot("catalog", "catalog", *base_catalog(doc))
    app = argo_app("pay-eu", labels={"team": "pay", "env": "prod"})
    other = argo_app("pay-dev", labels={"team": "pay", "env": "dev"})
    result = assemble([catalog, snapshot("clusters", "prod-eu", app, other)], policy(), now=NOW)
    entity = one(result)
    assert {p.place for p in entity.places} == {"prod-eu/in-cluster/pay-eu"}
    assert "argocd/app-name" not in annotations_of(entity)
    assert (
        EntityRef.of("component", None, "pay-dev") in result.entities
    )  # the unmatched app is discovered


def test_app_selector_links_before_the_applications_kubernetes_id_label() -> None:
    """SPEC 4.2: an Application links by the entity annotation ``argocd/app-name`` or
    ``argocd/app-selector``, *else* by its own ``backstage.io/kubernetes-id`` label."""
    selecting = component("payments")
    selecting["metadata"]["annotations"] = {"argocd/app-selector": "team=pay"}
    labelled = component("pay-runtime")
    labelled["metadata"]["annotations"] = {"backstage.io/kubernetes-id": "pay-runtime"}
    catalog = snapshot("catalog", "catalog", *base_catalog(selecting, labelled))
    app = argo_app(
        "pay-eu",
        health="Degraded",
        label="pay-runtime",
        labels={"team": "pay", "backstage.io/kubernetes-id": "pay-runtime"},
    )
    result = assemble([catalog, snapshot("clusters", "prod-eu", app)], policy(), now=NOW)
    assert annotations_of(one(result))["trueup.io/argocd-health"] == "Degraded"
    runtime = one(result, EntityRef.of("component", None, "pay-runtime"))
    assert "trueup.io/argocd-health" not in annotations_of(runtime)


def test_a_mappings_own_selector_annotation_links_by_labels() -> None:
    """A mapping's ``link_selectors`` may name any annotation key (docs/mappings.md)."""
    doc = component("payments")
    doc["metadata"]["annotations"] = {"example.com/workflow-selector": "team=pay"}
    catalog = snapshot("catalog", "catalog", *base_catalog(doc))
    nightly = replace(
        argo_app("pay-nightly", labels={"team": "pay"}),
        links=(),
        selectors=("example.com/workflow-selector",),
    )
    result = assemble([catalog, snapshot("clusters", "prod-eu", nightly)], policy(), now=NOW)
    assert {p.place for p in one(result).places} == {"prod-eu/in-cluster/pay-nightly"}
    assert EntityRef.of("component", None, "pay-nightly") not in result.entities


def test_nothing_observes_it_any_more_so_it_leaves() -> None:
    catalog = snapshot("catalog", "catalog", *base_catalog())
    assert PAYMENTS not in assemble([catalog], policy(), now=NOW).entities


# --- feed content (SPEC 6.1) -----------------------------------------------------------


def test_trueup_annotations_are_strings_and_status_is_never_a_root_field() -> None:
    catalog = snapshot("catalog", "catalog", *base_catalog(component("payments")))
    clusters = snapshot("clusters", "prod-eu", deployment("payments"), argo_app("payments"))
    entity = one(assemble([catalog, clusters], policy(), now=NOW))
    assert set(entity.entity) == {"apiVersion", "kind", "metadata", "spec"}
    notes = annotations_of(entity)
    assert all(isinstance(v, str) for v in notes.values())
    assert (
        notes["backstage.io/managed-by-location"]
        == "url:https://trueup.example.com/backstage/entities.yaml"
    )
    assert (
        notes["backstage.io/managed-by-origin-location"]
        == notes["backstage.io/managed-by-location"]
    )
    assert notes["backstage.io/kubernetes-id"] == "payments"
    assert notes["argocd/app-name"] == "payments"
    assert notes["trueup.io/sources"] == "catalog,clusters"
    assert notes["trueup.io/observed-at"] == "2026-11-28T11:59:00Z"
    assert notes["trueup.io/drift"] == "none"
    assert notes["trueup.io/quality-score"] == "100"
    assert notes["trueup.io/findings"] == "none"
    links = entity.entity["metadata"]["links"]
    assert links[-1]["url"] == "https://trueup.example.com/ui/entities/component/default/payments"


def test_an_entity_that_breaks_backstage_rules_is_kept_but_not_emitted() -> None:
    bad = component("payments")
    bad["metadata"]["labels"] = {"tier": "x" * 64}
    catalog = snapshot("catalog", "catalog", *base_catalog(bad))
    entity = one(assemble([catalog], policy(), now=NOW))
    assert not entity.emitted
    assert "invalid-entity" in codes(entity)


def test_assembly_is_deterministic_whatever_the_input_order() -> None:
    snaps = [
        snapshot("catalog", "catalog", *base_catalog(component("payments"), component("orders"))),
        snapshot(
            "clusters", "prod-eu", deployment("payments"), argo_app("orders", health="Degraded")
        ),
        snapshot("clusters", "prod-us", deployment("payments", scope="prod-us", replicas="0/2")),
    ]
    results = [assemble(list(p), policy(), now=NOW) for p in itertools.permutations(snaps)]
    assert all(r == results[0] for r in results)


def test_a_source_cannot_declare_what_trueup_computes() -> None:
    forged = component("payments")
    forged["metadata"]["annotations"] = {
        "trueup.io/argocd-health": "Healthy",
        "trueup.io/replicas": "3/3",
        "trueup.io/crossplane-ready": "True",
        "trueup.io/quality-score": "100",
        "trueup.io/observed-at": "2030-01-01T00:00:00Z",
        "trueup.io/terraform-address": "aws_db_instance.main",  # data, not computed: kept
    }
    entity = one(
        assemble([snapshot("catalog", "catalog", *base_catalog(forged))], policy(), now=NOW)
    )
    notes = annotations_of(entity)
    for key in ("trueup.io/argocd-health", "trueup.io/replicas", "trueup.io/crossplane-ready"):
        assert key not in notes  # no place reports it: nothing is shown
    assert "trueup.io/observed-at" not in notes
    assert notes["trueup.io/terraform-address"] == "aws_db_instance.main"


def test_two_declarations_in_one_source_tie_break_on_where_not_on_content_hashes() -> None:
    a = intent(component("payments", owner="team-a"), path="a.yaml")
    b = intent(component("payments", owner="team-b"), path="b.yaml")
    owners = set()
    for digest in ("000000000000", "ffffffffffff"):  # a.yaml's content hash changes
        moved = replace(a, provenance=replace(a.provenance, locator=f"catalog@{digest}:a.yaml#0"))
        snap = snapshot("catalog", "catalog", *base_catalog(), moved, b)
        owners.add(one(assemble([snap], policy(), now=NOW)).entity["spec"]["owner"])
    assert owners == {"team-a"}


def test_a_number_json_cannot_carry_keeps_the_entity_out_of_the_feed() -> None:
    odd = component("payments", weight=float("inf"))
    entity = one(assemble([snapshot("catalog", "catalog", *base_catalog(odd))], policy(), now=NOW))
    assert not entity.emitted
    invalid = next(f for f in entity.findings if f.code == "invalid-entity")
    assert {"field": "spec.weight", "rule": "non-finite-number"}.items() <= invalid.evidence[
        "violations"
    ][0].items()
