"""The dashboard's view models, without a browser or a server: pure functions of store values."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.store.builders import assembled
from trueup.model.assembled import Candidate, FieldOrigin, PlaceStatus
from trueup.model.finding import Code, Finding, Severity, finding
from trueup.model.observation import Nature, Provenance
from trueup.model.ref import EntityRef, parse_ref
from trueup.sources.git.config import GitSourceConfig
from trueup.sources.github.config import GithubSourceConfig
from trueup.sources.kubernetes.config import KubernetesSourceConfig
from trueup.sources.repository_catalog.weblinks import github_web_root
from trueup.sources.terraform.config import TerraformSourceConfig
from trueup.store.overview import ScoreChange
from trueup.store.records import Change, Revision, StoredEntity
from trueup.web.ui.models.badges import badges
from trueup.web.ui.models.catalog import CODES, PAGE_SIZE, catalog_page, parse_query
from trueup.web.ui.models.chart import line_chart, score_floor
from trueup.web.ui.models.entity import entity_view
from trueup.web.ui.models.hints import fix_hint
from trueup.web.ui.models.history import describe_cause, latest, revision_diff, timeline
from trueup.web.ui.models.locators import Locators
from trueup.web.ui.models.trend import EVERYONE, ScoreTrend, TrendPoint

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
COMMIT = "1a2b3c4d5e6f"
LOCATOR = f"catalog@{COMMIT}:teams/payments/catalog-info.yaml#2"


def _locators(**git: object) -> Locators:
    return Locators(
        [
            GitSourceConfig(id="catalog", type="git", **git),
            GithubSourceConfig(id="gh", type="github", org="acme"),
            GithubSourceConfig(
                id="ghe", type="github", org="acme", api_url="https://ghe.example.com/api/v3"
            ),
            KubernetesSourceConfig(id="clusters", type="kubernetes", snapshot="exports/*"),
            TerraformSourceConfig(id="infra", type="terraform", state="states/*.tfstate"),
        ]
    )


# --- locators ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "web", "expected"),
    [
        (
            "git@github.com:acme/catalog.git",
            None,
            f"https://github.com/acme/catalog/blob/{COMMIT}/teams/payments/catalog-info.yaml",
        ),
        (
            "https://gitlab.com/acme/platform/catalog.git",
            None,
            f"https://gitlab.com/acme/platform/catalog/-/blob/{COMMIT}/teams/payments/catalog-info.yaml",
        ),
        (
            "https://bitbucket.example.com/scm/PLAT/catalog.git",
            None,
            "https://bitbucket.example.com/projects/PLAT/repos/catalog/browse/"
            f"teams/payments/catalog-info.yaml?at={COMMIT}",
        ),
        (
            "git://git.example.com/catalog.git",
            {"view_url": "https://git.example.com/catalog/src/{branch}/{path}"},
            f"https://git.example.com/catalog/src/{COMMIT}/teams/payments/catalog-info.yaml",
        ),
        ("/srv/git/catalog", None, None),  # a local repository has no web page
    ],
)
def test_a_git_locator_links_to_the_file_at_its_commit(
    url: str, web: dict[str, str] | None, expected: str | None
) -> None:
    view = _locators(url=url, web=web).view("catalog", LOCATOR)
    assert view.url == expected
    assert view.label == f"teams/payments/catalog-info.yaml #2 at {COMMIT}"
    assert view.what == "git file"


def test_a_github_source_links_through_its_web_host() -> None:
    assert github_web_root("https://api.github.com") == "https://github.com"
    assert github_web_root("https://ghe.example.com/api/v3") == "https://ghe.example.com"
    view = _locators(url="/x").view("ghe", f"acme/payments@{COMMIT}:catalog-info.yaml#0")
    assert view.url == f"https://ghe.example.com/acme/payments/blob/{COMMIT}/catalog-info.yaml"


def test_cluster_objects_and_terraform_resources_are_named_not_linked() -> None:
    locators = _locators(url="/x")
    deployment = locators.view("clusters", "arn:aws:eks:eu/prod/payments/Deployment/api@9137")
    assert deployment.url is None
    assert deployment.label == (
        "Deployment api in namespace payments of cluster arn:aws:eks:eu/prod (resourceVersion 9137)"
    )
    cluster_scoped = locators.view("clusters", "prod-eu//ClusterRole/viewer")
    assert cluster_scoped.label == "ClusterRole viewer in cluster prod-eu"
    state = locators.view("infra", 'state 5b0c/42:module.db.aws_db_instance.this["a"]')
    assert state.label == 'module.db.aws_db_instance.this["a"] in state 5b0c, serial 42'
    assert locators.view("unknown", "whatever").label == "whatever"


# --- hints ---------------------------------------------------------------------------


def test_every_finding_code_has_a_specific_hint() -> None:
    hints = {code: fix_hint(finding(code, "component:default/x", "m")) for code in Code}
    assert len(set(hints.values())) == len(Code)
    assert all("See the message" not in hint for hint in hints.values())


def test_hints_name_what_to_change_where() -> None:
    dangling = finding(
        Code.DANGLING_REF,
        "component:default/refunds",
        "m",
        field="spec.owner",
        target="group:default/team-billing",
    )
    assert fix_hint(dangling) == (
        "Declare group:default/team-billing, or change spec.owner to an entity that exists."
    )
    behind = finding(
        Code.DRIFT,
        "component:default/api",
        "m",
        key="argocd-revision",
        place="prod-us/in-cluster/payments",
        branch="main",
        head="7fdb17db3f6681aba428502c279e47eba2f3c7b9",
    )
    assert "main's head 7fdb17db3f66 at prod-us/in-cluster/payments" in fix_hint(behind)
    broken = finding(Code.INVALID_FILE, "catalog:a.yaml", "m", path="a.yaml", line=6)
    assert fix_hint(broken).startswith("Fix the YAML of a.yaml at line 6;")
    other = Finding("custom-check", Severity.INFO, "x", "m")
    assert fix_hint(other) == "See the message and its evidence."


def test_a_reference_to_a_kind_the_feed_does_not_serve_points_at_backstage_kinds() -> None:
    unserved = finding(
        Code.DANGLING_REF,
        "component:default/web",
        "spec.dependsOn 'resource:sessions' resolves to an entity that is not served: "
        "kind 'resource' is not in backstage.kinds",
        field="spec.dependsOn",
        value="resource:sessions",
        target="resource:default/sessions",
        unserved_kind="resource",
    )
    assert fix_hint(unserved) == (
        "Add Resource to backstage.kinds in trueup.yaml so resource:default/sessions is served, "
        "or change spec.dependsOn to an entity the feed serves."
    )


def test_a_reference_to_an_entity_refused_for_its_rules_points_at_that_entity() -> None:
    refused = finding(
        Code.DANGLING_REF,
        "component:default/web",
        "spec.dependsOn 'resource:sessions' resolves to an entity that is not served: "
        "it breaks Backstage's rules",
        field="spec.dependsOn",
        value="resource:sessions",
        target="resource:default/sessions",
        unserved_code="invalid-entity",
    )
    assert fix_hint(refused) == (
        "Fix resource:default/sessions: its invalid-entity finding says which of Backstage's "
        "rules it breaks; until then spec.dependsOn points to an entity the feed leaves out."
    )


# --- catalog ---------------------------------------------------------------------------


def test_the_catalog_query_is_validated_and_kept_for_links() -> None:
    query = parse_query(
        {"q": " pay ", "kind": "Component", "owner": "team-a", "stale": "yes", "drift": "no"}
    )
    assert (query.search, query.kind, query.owner, query.stale, query.drift) == (
        "pay",
        "component",
        "group:default/team-a",
        True,
        False,
    )
    assert query.problems == ()
    where = query.where()
    assert (where.kind, where.owner, where.search, where.stale, where.drift) == (
        "component",
        "group:default/team-a",
        "pay",
        True,
        False,
    )
    after = EntityRef("component", "default", "payments")
    assert query.params(after=after) == (
        "q=pay&kind=component&owner=group%3Adefault%2Fteam-a&stale=yes&drift=no"
        "&after=component%3Adefault%2Fpayments"
    )


def test_bad_catalog_filters_are_named_and_dropped() -> None:
    query = parse_query(
        {"kind": "no kind!", "finding": "Bogus!", "stale": "maybe", "after": ":", "owner": "a:"}
    )
    assert (query.kind, query.finding, query.stale, query.after, query.owner) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert len(query.problems) == 5
    assert "'Bogus!' is not a finding code" in query.problems


def test_a_plugin_checks_finding_code_filters_the_catalog_and_stays_selected() -> None:
    # The scorecards link every code they count here, a plugin check's too.
    query = parse_query({"finding": "no-runbook"})
    assert (query.finding, query.problems) == ("no-runbook", ())
    page = catalog_page(query, [], NOW)
    assert page.codes[-1] == "no-runbook" and page.codes.count("no-runbook") == 1
    assert catalog_page(parse_query({"finding": "stale"}), [], NOW).codes == CODES


def test_a_catalog_page_says_where_the_next_one_starts() -> None:
    stored = [
        StoredEntity(assembled(f"svc-{i:03}").ref, assembled(f"svc-{i:03}"), 1, NOW, False)
        for i in range(PAGE_SIZE + 1)
    ]
    page = catalog_page(parse_query({}), stored, NOW)
    assert len(page.rows) == PAGE_SIZE
    assert page.next_after == stored[PAGE_SIZE - 1].ref
    assert catalog_page(parse_query({}), stored[:3], NOW).next_after is None


# --- badges and the entity page ------------------------------------------------------


def _place(value: str, *, stale: bool, place: str, last_known: str = "Healthy") -> PlaceStatus:
    cluster = place.split("/", maxsplit=1)[0]
    provenance = Provenance("clusters", cluster, f"{place}/Deployment/api@7", NOW)
    return PlaceStatus("argocd-health", place, value, last_known, stale, provenance)


def test_badges_say_findings_stale_drift_discovered_and_not_served() -> None:
    drift = finding(Code.DRIFT, "component:default/api", "argocd-sync is OutOfSync at x")
    missing = finding(Code.MISSING_OWNER, "component:default/api", "no owner")
    entity = assembled("api", findings=(drift, missing))
    entity = replace(
        entity,
        places=(_place("Unknown", stale=True, place="prod-us/shop"),),
        discovered=True,
        emitted=False,
    )
    assert [b.label for b in badges(entity)] == [
        "1 error",
        "1 warning",
        "stale",
        "drift",
        "discovered",
        "not served",
    ]
    assert [b.label for b in badges(assembled("ok"), removed=True)] == ["removed"]


def test_the_entity_view_shows_provenance_losers_status_per_place_and_hints() -> None:
    base = assembled("api", owner="team-a")
    git = Provenance("catalog", "catalog@main", LOCATOR, NOW - timedelta(hours=3))
    tf = Provenance(
        "infra", "payments", "state 5b0c/42:aws_db_instance.db", NOW - timedelta(days=1)
    )
    origins = {
        "spec.owner": FieldOrigin(
            Candidate("team-a", Nature.INTENT, git),
            (Candidate("team-platform", Nature.ACTUAL, tf),),
        )
    }
    places = (
        _place("Healthy", stale=False, place="prod-eu/shop"),
        _place("Unknown", stale=True, place="prod-us/shop", last_known="Degraded"),
    )
    conflict = finding(Code.CONFLICT, "component:default/api", "sources disagree on spec.owner")
    entity = replace(base, origins=origins, places=places, findings=(conflict,))
    view = entity_view(
        StoredEntity(entity.ref, entity, 3, NOW - timedelta(hours=2), False),
        _locators(url="git@github.com:acme/catalog.git"),
        NOW,
    )
    (owner,) = view.fields
    assert (owner.field, owner.value, owner.winner.source, owner.winner.age) == (
        "spec.owner",
        "team-a",
        "catalog",
        "3h ago",
    )
    assert owner.winner.locator.url == (
        f"https://github.com/acme/catalog/blob/{COMMIT}/teams/payments/catalog-info.yaml"
    )
    (loser,) = owner.losers
    assert (loser.value, loser.source, loser.age) == ("team-platform", "infra", "1d ago")
    assert loser.locator.label == "aws_db_instance.db in state 5b0c, serial 42"
    # Every other field of the document is listed as computed by trueup.
    assert ("metadata.annotations.trueup.io/sources", "catalog") in view.computed
    assert [(s.key, s.shown, s.stale) for s in view.summary] == [("argocd-health", "Unknown", True)]
    us = next(p for p in view.places if p.place == "prod-us/shop")
    assert us.stale and [(v.shown, v.last_known) for v in us.values] == [("Unknown", "Degraded")]
    (found,) = view.findings
    assert found.code == "conflict" and found.hint.startswith("Declare the entity in one place")


# --- history ---------------------------------------------------------------------------


def _revision(number: int, description: str | None, cause: str) -> Revision:
    entity = assembled("api", extra={"description": description}) if description else None
    return Revision(
        ref=EntityRef("component", "default", "api"),
        number=number,
        at=NOW - timedelta(days=10 - number),
        run_id=number,
        cause=cause,
        change=Change.CREATED if number == 1 else (Change.CHANGED if entity else Change.REMOVED),
        assembled=entity,
        content_hash=None,
    )


def test_a_cause_names_the_run_its_trigger_and_the_source_versions() -> None:
    webhook = describe_cause(
        "sync run 12 (webhook github acme/catalog delivery github:72d3 on host-1); "
        "catalog/catalog@main: fetched 1a2b3c; changed by catalog@1a2b3c:a.yaml#0 (spec.owner)"
    )
    assert webhook.run_id == 12
    assert webhook.trigger == "webhook github acme/catalog delivery github:72d3 on host-1"
    assert webhook.trigger_kind == "webhook"
    assert webhook.details == (
        ["catalog/catalog@main: fetched 1a2b3c", "changed by catalog@1a2b3c:a.yaml#0 (spec.owner)"]
    )
    assert describe_cause("sync run 3 (schedule on w)").trigger_kind == "schedule"
    assert describe_cause("sync run 4 (dashboard accept-removals by ops)").trigger_kind == (
        "dashboard"
    )
    legacy = describe_cause("written before causes were recorded")
    assert (legacy.run_id, legacy.details) == (None, ["written before causes were recorded"])


def test_the_timeline_is_newest_first_and_each_entry_is_diffed_against_its_predecessor() -> None:
    revisions = [
        _revision(1, "one", "sync run 1 (cli)"),
        _revision(2, "two", "sync run 2 (schedule)"),
        _revision(3, None, "sync run 3 (schedule); no source reports it any more"),
    ]
    entries = timeline(revisions, NOW)
    assert [(e.revision, e.change, e.age) for e in entries] == [
        (3, "removed", "7d ago"),
        (2, "changed", "8d ago"),
        (1, "created", "9d ago"),
    ]
    changed = entries[1].diff.changes
    assert [(c.field, c.before, c.after) for c in changed] == [("spec.description", "one", "two")]
    assert [e.revision for e in latest(revisions, NOW, 2)] == [3, 2]
    assert latest(revisions, NOW, 2)[1].diff == entries[1].diff  # not diffed against nothing
    either_way = revision_diff(revisions[1], revisions[0]).changes
    assert [(c.before, c.after) for c in either_way] == [("two", "one")]


# --- trend and chart -------------------------------------------------------------------


def _change(i: int, name: str, day: int, score: int | None, owner: str | None) -> ScoreChange:
    return ScoreChange(
        id=i,
        ref=parse_ref(f"component:default/{name}"),
        at=datetime(2026, 3, day, 9, tzinfo=UTC),
        change=Change.REMOVED if score is None else Change.CHANGED,
        score=score,
        owner=owner,
    )


def test_the_trend_is_the_daily_mean_of_each_owners_current_entities() -> None:
    trend = ScoreTrend()
    trend.add(
        [
            _change(1, "a", 1, 100, "group:default/team-a"),
            _change(2, "b", 1, 80, "group:default/team-a"),
            _change(3, "c", 1, 50, None),
        ]
    )
    trend.add(
        [
            _change(3, "c", 1, 0, None),  # already seen: ignored
            _change(4, "b", 3, 60, "group:default/team-a"),
            _change(5, "a", 4, 100, "group:default/team-b"),  # handed over
            _change(6, "c", 4, None, None),  # removed
        ]
    )
    assert trend.last_id == 6
    team_a = trend.series("group:default/team-a", today=date(2026, 3, 5), days=7)
    assert team_a == [
        TrendPoint(date(2026, 3, 1), 90, 2),
        TrendPoint(date(2026, 3, 2), 90, 2),
        TrendPoint(date(2026, 3, 3), 80, 2),
        TrendPoint(date(2026, 3, 4), 60, 1),
        TrendPoint(date(2026, 3, 5), 60, 1),
    ]
    assert [p.day.day for p in trend.series("group:default/team-b", today=date(2026, 3, 5))] == [
        4,
        5,
    ]
    assert [p.score for p in trend.series("(no owner)", today=date(2026, 3, 5))] == [50, 50, 50]
    everyone = trend.series(EVERYONE, today=date(2026, 3, 4), days=2)
    assert everyone == [TrendPoint(date(2026, 3, 3), 70, 3), TrendPoint(date(2026, 3, 4), 80, 2)]


def test_the_chart_maps_days_and_scores_onto_the_view_box() -> None:
    points = [
        TrendPoint(date(2026, 3, 1), 90, 2),
        TrendPoint(date(2026, 3, 3), 70, 2),
        TrendPoint(date(2026, 3, 5), 80, 1),
    ]
    chart = line_chart(points, width=640, height=200)
    assert score_floor(points) == 60
    assert [t.label for t in chart.y_ticks] == ["60", "70", "80", "90", "100"]
    xs = [d.x for d in chart.dots]
    assert xs[0] == chart.plot_left and xs[-1] == chart.plot_right
    assert xs[1] == (xs[0] + xs[2]) / 2  # day 3 is half way between day 1 and day 5
    ys = [d.y for d in chart.dots]
    assert ys[1] > ys[2] > ys[0]  # lower scores are drawn lower
    assert chart.dots[2].label == "2026-03-05: score 80 over 1 entity"
    assert [(t.label, t.anchor) for t in chart.x_ticks] == [
        ("Mar 01", "start"),
        ("Mar 03", "middle"),
        ("Mar 05", "end"),
    ]
    assert chart.summary == (
        "Score fell from 90 on 2026-03-01 to 80 on 2026-03-05; lowest 70 on 2026-03-03."
    )
    empty = line_chart([])
    assert (empty.line, empty.summary) == ("", "No history yet.")
    spark = line_chart(points, width=120, height=32, compact=True)
    assert spark.y_ticks == [] and spark.x_ticks == [] and len(spark.dots) == 3
