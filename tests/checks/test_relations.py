"""``missing-owner`` and ``dangling-ref`` (SPEC 7) for entities with no owner or odd specs.

Bad data produces findings, never crashes (SPEC 1): a ``spec`` that is not a
mapping has no owner and no relations, and is reported as such.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.assemble.builders import (
    NOW,
    argo_app,
    catalog_snapshot,
    component,
    group,
    policy,
    snapshot,
)
from trueup.assemble.assembler import assemble
from trueup.checks import CheckContext, Draft
from trueup.checks.relations import RelationsCheck
from trueup.model.finding import Finding
from trueup.model.ref import EntityRef, parse_ref

TEAM = frozenset({parse_ref("group:team-a"), parse_ref("system:shop")})


def _entity(kind: str, spec: object, name: str = "payments") -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }


def _check(doc: dict[str, Any], *, declared: bool = True) -> list[Finding]:
    ref = EntityRef.of(doc["kind"], None, doc["metadata"]["name"])
    draft = Draft(ref=ref, entity=doc, places=(), declared=declared, observed=not declared)
    return list(RelationsCheck().check(draft, CheckContext(refs=TEAM)))


def _summary(findings: list[Finding]) -> list[tuple[str, str, str, object]]:
    return [(f.code, f.subject, f.message, f.evidence.get("field")) for f in findings]


@pytest.mark.parametrize("kind", ["Component", "API", "Resource", "System", "Domain"])
@pytest.mark.parametrize("spec", [{"type": "service"}, {"type": "service", "owner": ""}])
def test_an_owned_kind_without_spec_owner_is_missing_owner(kind: str, spec: dict[str, str]) -> None:
    subject = f"{kind.lower()}:default/payments"
    assert _summary(_check(_entity(kind, spec))) == [
        ("missing-owner", subject, "no spec.owner", "spec.owner")
    ]


@pytest.mark.parametrize("kind", ["Group", "User", "Location"])
def test_kinds_that_have_no_owner_are_not_missing_one(kind: str) -> None:
    assert _check(_entity(kind, {"type": "team"})) == []


def test_an_entity_nobody_declares_is_not_missing_an_owner() -> None:
    assert _check(_entity("Component", {"type": "service"}), declared=False) == []


def test_an_owner_that_does_not_exist_is_a_dangling_ref_naming_it() -> None:
    found = _check(_entity("Component", {"owner": "team-gone"}))
    assert _summary(found) == [
        (
            "dangling-ref",
            "component:default/payments",
            "spec.owner 'team-gone' resolves to nothing",
            "spec.owner",
        )
    ]
    assert found[0].evidence["value"] == "team-gone"
    assert found[0].evidence["target"] == "group:default/team-gone"


def test_an_owner_nobody_declares_is_not_reported_for_a_discovered_entity() -> None:
    assert _check(_entity("Component", {"owner": "team-gone"}), declared=False) == []


@pytest.mark.parametrize("spec", ["oops", ["owner", "team-a"], 42, None])
def test_a_spec_that_is_not_a_mapping_has_no_owner_and_no_relations(spec: object) -> None:
    assert _summary(_check(_entity("Component", spec))) == [
        ("missing-owner", "component:default/payments", "no spec.owner", "spec.owner")
    ]
    assert _check(_entity("Group", spec)) == []


def test_a_declared_spec_that_is_not_a_mapping_is_a_finding_through_assembly() -> None:
    odd = component("payments")
    odd["spec"] = "oops"
    catalog = catalog_snapshot(group("team-a"), odd)
    clusters = snapshot("clusters", "prod-eu", argo_app("other"))  # an actual source exists
    result = assemble([catalog, clusters], policy(), now=NOW)
    entity = result.entities[EntityRef.of("component", None, "payments")]
    codes = {f.code for f in entity.findings}
    assert {"missing-owner", "invalid-entity"} <= codes
    assert not entity.emitted
