"""Revision causes name the source versions that changed an entity (SPEC 1, 3: history)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from trueup.model.assembled import AssembledEntity, Candidate, FieldOrigin, PlaceStatus
from trueup.model.cause import revision_cause
from trueup.model.observation import Nature, Provenance
from trueup.model.ref import EntityRef

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def entity(
    owner: str = "team-a",
    *,
    commit: str = "aaaaaaaaaaaa",
    definition: str = "v1",
    spec_file: str = "bbbbbbbbbbbb",
    health: str = "Healthy",
    findings: tuple = (),  # type: ignore[type-arg]
) -> AssembledEntity:
    declared = Provenance("catalog", "catalog@main", f"catalog@{commit}:teams/a.yaml#3", T0)
    place = Provenance("clusters", "prod-eu", "prod-eu/argocd/Application/payments@42", T0)
    state = Provenance("infra", "prod", "state 1f2e-lineage/17", T0)
    return AssembledEntity(
        ref=EntityRef.of("api", None, "payments"),
        entity={"kind": "API", "spec": {"owner": owner, "definition": definition}},
        origins={
            "spec.owner": FieldOrigin(Candidate(owner, Nature.INTENT, declared)),
            "spec.definition": FieldOrigin(
                Candidate(
                    definition, Nature.INTENT, declared, (f"catalog@{spec_file}:openapi.yaml",)
                )
            ),
            "metadata.annotations.acme.io/size": FieldOrigin(
                Candidate("db.m5", Nature.ACTUAL, state)
            ),
        },
        places=(PlaceStatus("argocd-health", "prod-eu/in-cluster", health, health, False, place),),
        findings=findings,
        discovered=False,
        emitted=True,
        score=100,
    )


def test_a_changed_field_names_the_commit_and_file_that_now_declare_it() -> None:
    # A new commit re-reads every file; only the field whose value changed is credited.
    cause = revision_cause(entity(), entity("team-b", commit="cccccccccccc"))
    assert cause == "changed by catalog@cccccccccccc:teams/a.yaml#3 (spec.owner)"


def test_a_changed_referenced_file_is_named() -> None:
    cause = revision_cause(entity(), entity(definition="v2", spec_file="dddddddddddd"))
    assert "catalog@dddddddddddd:openapi.yaml (spec.definition)" in cause


def test_status_names_the_cluster_object_and_resource_version() -> None:
    cause = revision_cause(entity(), entity(health="Degraded"))
    assert cause == "changed by prod-eu/argocd/Application/payments@42 (status argocd-health)"


def test_terraform_state_lineage_and_serial_are_named() -> None:
    before = entity()
    after = replace(
        before,
        origins={
            **before.origins,
            "metadata.annotations.acme.io/size": FieldOrigin(
                Candidate(
                    "db.m6", Nature.ACTUAL, Provenance("infra", "prod", "state 1f2e-lineage/18", T0)
                )
            ),
        },
    )
    assert revision_cause(before, after) == (
        "changed by state 1f2e-lineage/18 (metadata.annotations.acme.io/size)"
    )


def test_created_removed_and_findings_only() -> None:
    assert revision_cause(None, entity()) == (
        "first seen in catalog@aaaaaaaaaaaa:teams/a.yaml#3, catalog@bbbbbbbbbbbb:openapi.yaml, "
        "prod-eu/argocd/Application/payments@42, state 1f2e-lineage/17"
    )
    assert revision_cause(entity(), None).startswith("no source reports it any more (last: ")
    assert revision_cause(entity(), entity(findings=("x",))) == (
        "none of its sources changed (its findings did)"
    )


def _deployments(api: str, worker: str, *, worker_version: str = "7") -> AssembledEntity:
    """Two Deployments of one component in one namespace: two values at one place."""

    def replicas(name: str, value: str, version: str) -> PlaceStatus:
        seen = Provenance("clusters", "prod-eu", f"prod-eu/shop/Deployment/{name}@{version}", T0)
        return PlaceStatus("replicas", "prod-eu/shop", value, value, False, seen)

    return replace(
        entity(),
        places=(
            replicas("payments-api", api, "7"),
            replicas("payments-worker", worker, worker_version),
        ),
    )


def test_of_two_objects_at_one_place_only_the_one_that_changed_is_named() -> None:
    cause = revision_cause(
        _deployments("2/2", "1/1"), _deployments("2/2", "0/1", worker_version="8")
    )
    assert cause == "changed by prod-eu/shop/Deployment/payments-worker@8 (status replicas)"


def test_a_field_change_does_not_credit_an_unchanged_object_sharing_a_place() -> None:
    before = _deployments("2/2", "1/1")
    after = replace(
        before,
        origins={
            **before.origins,
            "spec.owner": FieldOrigin(
                Candidate(
                    "team-b",
                    Nature.INTENT,
                    Provenance(
                        "catalog", "catalog@main", "catalog@cccccccccccc:teams/a.yaml#3", T0
                    ),
                )
            ),
        },
    )
    assert (
        revision_cause(before, after)
        == "changed by catalog@cccccccccccc:teams/a.yaml#3 (spec.owner)"
    )


def test_a_place_that_no_longer_reports_is_named() -> None:
    before = entity()
    gone = Provenance("clusters", "prod-us", "prod-us/argocd/Application/payments@5", T0)
    before = replace(
        before,
        places=(
            *before.places,
            PlaceStatus("argocd-health", "prod-us/in-cluster", "Degraded", "Degraded", False, gone),
        ),
    )
    cause = revision_cause(before, entity())
    assert cause == "changed by prod-us/argocd/Application/payments@5 (status argocd-health)"
