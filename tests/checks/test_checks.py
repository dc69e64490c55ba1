"""The built-in checks, the quality score and the per-owner scorecard."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from tests.assemble.builders import (
    NOW,
    argo_app,
    catalog_snapshot,
    component,
    group,
    intent,
    policy,
    snapshot,
    system,
)
from trueup.assemble.assembler import AssemblyPolicy, ScopeState, assemble
from trueup.checks import CheckContext, Draft
from trueup.checks.base import apply_severity, count_summary, quality_score
from trueup.checks.completeness import CompletenessCheck, CompletenessConfig
from trueup.checks.relations import RelationsCheck
from trueup.checks.scorecard import NO_OWNER, scorecard
from trueup.model.assembled import EntityScore
from trueup.model.finding import Code, Severity, finding
from trueup.model.ref import EntityRef, parse_ref
from trueup.model.repository import Head


def draft(doc: dict[str, Any], *, declared: bool = True) -> Draft:
    meta = doc["metadata"]
    ref = EntityRef.of(doc["kind"], meta.get("namespace"), meta["name"])
    return Draft(ref=ref, entity=doc, places=(), declared=declared, observed=False)


def refs(*texts: str) -> frozenset[EntityRef]:
    return frozenset(parse_ref(t) for t in texts)


def test_dangling_relations_are_reported_per_field() -> None:
    doc = component(
        "payments",
        dependsOn=["resource:payments-db", "billing-db"],
        providesApis=["payments-api"],
        consumesApis=["api:ledger"],
    )
    context = CheckContext(refs=refs("group:team-a", "system:shop", "api:payments-api"))
    found = list(RelationsCheck().check(draft(doc), context))
    dangling = {
        (f.evidence["field"], f.evidence["value"]) for f in found if f.code == "dangling-ref"
    }
    assert dangling == {
        ("spec.dependsOn", "resource:payments-db"),
        ("spec.dependsOn", "billing-db"),  # dependsOn has no default kind: not a valid ref
        ("spec.consumesApis", "api:ledger"),
    }
    invalid = next(f for f in found if f.evidence["value"] == "billing-db")
    assert "not a valid reference" in invalid.message


def test_owner_that_does_not_resolve_is_a_dangling_ref_warning() -> None:
    doc = component("payments", owner="team-gone")
    found = list(RelationsCheck().check(draft(doc), CheckContext(refs=refs("system:shop"))))
    assert [(f.code, f.severity, f.evidence["target"]) for f in found] == [
        ("dangling-ref", Severity.WARNING, "group:default/team-gone")
    ]
    assert found[0].message == "spec.owner 'team-gone' resolves to nothing"


def test_no_owner_at_all_stays_a_missing_owner_error() -> None:
    doc = component("payments")
    del doc["spec"]["owner"]
    found = list(RelationsCheck().check(draft(doc), CheckContext(refs=refs("system:shop"))))
    assert [(f.code, f.severity) for f in found] == [("missing-owner", Severity.ERROR)]


def test_an_unresolved_owner_severity_is_configurable() -> None:
    doc = component("payments", owner="team-gone")
    found = list(RelationsCheck().check(draft(doc), CheckContext(refs=refs("system:shop"))))
    raised = apply_severity(found, {"dangling-ref": Severity.ERROR})
    assert [(f.code, f.severity) for f in raised] == [("dangling-ref", Severity.ERROR)]


@pytest.mark.parametrize(
    ("owner", "namespace", "resolved"),
    [
        ("team-a", "default", "group:default/team-a"),
        ("team-a", "billing", "group:billing/team-a"),  # the entity's own namespace
        ("user:jdoe", "billing", "user:billing/jdoe"),
        ("Group:Ops/Team-A", "default", "group:ops/team-a"),  # case-insensitive
        ("ops/team-a", "billing", "group:ops/team-a"),
        ("a/b:c", "default", "group:a/b:c"),  # a '/' before the ':' means no kind
    ],
)
def test_owner_refs_resolve_as_backstage_parse_entity_ref(
    owner: str, namespace: str, resolved: str
) -> None:
    doc = component("payments", owner=owner)
    doc["metadata"]["namespace"] = namespace
    draft_ = draft(doc)
    assert (
        list(
            RelationsCheck().check(
                draft_, CheckContext(refs=refs(resolved, "system:" + namespace + "/shop"))
            )
        )
        == []
    )
    missing = list(
        RelationsCheck().check(draft_, CheckContext(refs=refs("system:" + namespace + "/shop")))
    )
    assert [f.evidence["target"] for f in missing] == [resolved]


def test_owner_may_be_a_user() -> None:
    doc = component("payments", owner="user:jdoe")
    found = list(
        RelationsCheck().check(draft(doc), CheckContext(refs=refs("user:jdoe", "system:shop")))
    )
    assert found == []


def test_relations_resolve_in_the_entity_namespace() -> None:
    doc = component("payments", owner="team-a", system="shop")
    doc["metadata"]["namespace"] = "billing"
    context = CheckContext(refs=refs("group:billing/team-a", "system:billing/shop"))
    assert list(RelationsCheck().check(draft(doc), context)) == []
    assert (
        len(list(RelationsCheck().check(draft(doc), CheckContext(refs=refs("group:team-a"))))) == 2
    )


def test_completeness_follows_the_configured_rules() -> None:
    doc = component("payments")
    del doc["metadata"]["description"]
    doc["spec"]["system"] = ""
    rules = CompletenessConfig(
        required_fields={"component": ["metadata.description", "spec.system", "spec.type"]}
    )
    context = CheckContext(refs=frozenset())
    found = list(CompletenessCheck(rules).check(draft(doc), context))
    assert sorted(f.evidence["field"] for f in found) == ["metadata.description", "spec.system"]
    assert all(f.code == "missing-field" for f in found)
    none = CompletenessConfig(required_fields={})
    assert list(CompletenessCheck(none).check(draft(doc), context)) == []


def test_discovered_entities_get_undeclared_not_completeness_findings() -> None:
    catalog = snapshot("catalog", "catalog", intent(group("team-a")), intent(system("shop")))
    clusters = snapshot("clusters", "prod-eu", argo_app("ghost"))
    entity = assemble([catalog, clusters], policy(), now=NOW).entities[
        EntityRef.of("component", None, "ghost")
    ]
    assert {f.code for f in entity.findings} == {"undeclared"}


def test_declared_but_not_deployed_is_drift_by_lifecycle() -> None:
    prod = component("payments")
    exp = component("labs", lifecycle="experimental")
    catalog = catalog_snapshot(group("team-a"), system("shop"), prod, exp)
    clusters = snapshot("clusters", "prod-eu", argo_app("other"))
    result = assemble([catalog, clusters], policy(), now=NOW)
    payments = result.entities[EntityRef.of("component", None, "payments")]
    labs = result.entities[EntityRef.of("component", None, "labs")]
    drift = [f for f in payments.findings if f.code == "drift"]
    assert drift and drift[0].severity is Severity.WARNING
    assert [f.severity for f in labs.findings if f.code == "drift"] == [Severity.INFO]
    assert payments.entity["metadata"]["annotations"]["trueup.io/drift"] == "not-deployed"
    # without any actual source, "not deployed" cannot be known: no drift
    alone = assemble([catalog], policy(), now=NOW).entities[
        EntityRef.of("component", None, "payments")
    ]
    assert not [f for f in alone.findings if f.code == "drift"]


def test_unknown_status_is_stale_not_drift() -> None:
    catalog = snapshot(
        "catalog",
        "catalog",
        intent(group("team-a")),
        intent(system("shop")),
        intent(component("payments")),
    )
    old = snapshot(
        "clusters", "prod-eu", argo_app("payments", health="Degraded", age=timedelta(hours=1))
    )
    entity = assemble([catalog, old], policy(), now=NOW).entities[
        EntityRef.of("component", None, "payments")
    ]
    assert {f.code for f in entity.findings} == {"stale"}


def test_configured_severity_replaces_the_default() -> None:
    doc = component("payments")
    del doc["metadata"]["description"]
    catalog = snapshot(
        "catalog", "catalog", intent(group("team-a")), intent(system("shop")), intent(doc)
    )
    base = policy()
    lowered = AssemblyPolicy(**{**base.__dict__, "severity": {"missing-field": Severity.INFO}})
    entity = assemble([catalog], lowered, now=NOW).entities[
        EntityRef.of("component", None, "payments")
    ]
    assert [(f.code, f.severity) for f in entity.findings] == [("missing-field", Severity.INFO)]
    assert entity.score == 98


def test_quality_score_and_counts() -> None:
    findings = [
        finding(Code.MISSING_OWNER, "x", "a"),
        finding(Code.DRIFT, "x", "b"),
        finding(Code.DRIFT, "x", "c", severity=Severity.INFO),
    ]
    assert quality_score(findings) == 100 - 25 - 10 - 2
    assert count_summary(findings) == "error=1,warning=1,info=1"
    assert count_summary([]) == "none"
    assert quality_score([finding(Code.MISSING_OWNER, "x", str(i)) for i in range(5)]) == 0


def test_scorecard_groups_by_owner_worst_first() -> None:
    good = component("good")
    bad = component("bad", owner="team-b", dependsOn=["resource:nope"])
    del bad["metadata"]["description"]
    docs = [group("team-a"), group("team-b"), system("shop"), good, bad]
    catalog = catalog_snapshot(*docs)
    result = assemble([catalog], policy(), now=NOW)
    entities = result.entities.values()
    card = scorecard(
        [EntityScore(e.ref, e.owner, e.score) for e in entities],
        [f for e in entities for f in e.findings],
    )
    assert next(row.owner for row in card) == "group:default/team-b"
    team_b = card[0]
    assert team_b.entities == 1 and team_b.score == 80
    assert team_b.by_code == {"dangling-ref": 1, "missing-field": 1}
    owners = {row.owner for row in card}
    assert NO_OWNER in owners  # groups have no owner


def _deployed(revision: str, *, repo: str, target: str = "main", **kwargs: Any) -> Any:
    app = argo_app("payments", **kwargs)
    status = {**app.status, "argocd-revision": revision, "argocd-repo": repo}
    status["argocd-target-revision"] = target
    return replace(app, status=status)


HEAD = "b" * 40


def _behind(app: Any, heads: dict[str, Head]) -> list[Any]:
    catalog = snapshot(
        "catalog",
        "catalog",
        intent(group("team-a")),
        intent(system("shop")),
        intent(component("payments")),
    )
    scopes = ScopeState(heads=heads)
    entity = assemble(
        [catalog, snapshot("clusters", "prod-eu", app)], policy(), now=NOW, scopes=scopes
    ).entities[EntityRef.of("component", None, "payments")]
    return [f for f in entity.findings if f.evidence.get("key") == "argocd-revision"]


def test_a_deployed_revision_that_is_not_the_branch_head_is_drift() -> None:
    heads = {"github.com/acme/shop": Head("main", HEAD)}
    [drift] = _behind(_deployed("a" * 40, repo="git@github.com:acme/shop.git"), heads)
    assert drift.code == "drift" and drift.evidence["head"] == HEAD
    assert "aaaaaaaaaaaa" in drift.message and "bbbbbbbbbbbb" in drift.message


def test_the_head_itself_is_not_drift() -> None:
    heads = {"github.com/acme/shop": Head("main", HEAD)}
    assert _behind(_deployed(HEAD, repo="https://github.com/acme/shop"), heads) == []


def test_revisions_are_only_compared_when_the_branch_and_repository_are_known() -> None:
    heads = {"github.com/acme/shop": Head("main", HEAD)}
    other_branch = _deployed("a" * 40, repo="https://github.com/acme/shop", target="release-1")
    assert _behind(other_branch, heads) == []
    other_repo = _deployed("a" * 40, repo="https://github.com/acme/deploy")
    assert _behind(other_repo, heads) == []
    assert _behind(_deployed("a" * 40, repo="https://github.com/acme/shop"), {}) == []
    stale = _deployed("a" * 40, repo="https://github.com/acme/shop", age=timedelta(hours=2))
    assert _behind(stale, heads) == []


def test_what_a_draft_derives_is_computed_once_per_context() -> None:
    """The drift annotation and the drift check read one computation of the drift
    (``Draft.derived``)."""
    calls: list[object] = []

    def derive(d: Draft, context: object) -> tuple[str, ...]:
        calls.append(context)
        return (d.ref.name,)

    made = draft(component("payments"))
    first, second = CheckContext(refs=refs()), CheckContext(refs=refs())
    assert made.derived(derive, first) == ("payments",)
    assert made.derived(derive, first) == ("payments",)
    assert calls == [first]
    assert made.derived(derive, second) == ("payments",)  # another context: derived again
    assert calls == [first, second]
    assert draft(component("payments")).derived(derive, second) == ("payments",)
    assert calls == [first, second, second]  # another draft too
