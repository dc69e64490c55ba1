"""``trueup sync`` on live clusters: one consistent list per type, nothing lost on a partial read.

Test-plan rows 29 (unreachable mid-list), 30 (continue token expired), 33 (429
on a list), 34 (403 / 404 on one type) and 36 (kubeconfig problems, identity),
driven by the loopback API server's scripted faults through the official
client, and through the real pipeline where deletion is at stake.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.sources.kubernetes.builders import (
    ARGO_CRD,
    application,
    crd,
    deployment,
    healthy_status,
    service,
)
from tests.sources.kubernetes.conftest import Clusters
from tests.sources.kubernetes.harness import (
    LATER,
    NOW,
    annotations_of,
    k8s_config,
    live_source,
    names,
    problems,
    read_all,
    run_sync,
    snapshot,
    store_at,
)
from trueup.model.finding import Finding
from trueup.model.observation import FailureKind, ScopeFailure, Snapshot
from trueup.store import Store
from trueup.testing.kube_api import Fault

DEPLOYMENTS = r"/apis/apps/v1/deployments$"


def seed(server: object, count: int = 5) -> None:
    server.apply(*[deployment(f"d{i}", f"app{i}") for i in range(count)])  # type: ignore[attr-defined]


# --- reading several clusters ----------------------------------------------------------


def test_each_context_is_one_scope_read_as_one_consistent_list(clusters: Clusters) -> None:
    seed(clusters.alpha, 5)
    clusters.beta.apply(deployment("api", "shop"), service("api", "shop"))
    reads = read_all(live_source(clusters, "alpha", "beta"))

    assert names(reads["alpha"]) == [f"Deployment/d{i}" for i in range(5)]
    assert names(reads["beta"]) == ["Deployment/api", "Service/api"]
    beta = snapshot(reads["beta"])
    assert beta.version.startswith("rv=") and clusters.beta.url in beta.version
    assert {o.provenance.scope for o in beta.observations} == {"beta"}
    # five objects at page size 2: three pages, the selector sent to the server
    pages = clusters.alpha.requests_to(DEPLOYMENTS)
    assert [r.query.get("limit") for r in pages] == ["2", "2", "2"]
    assert {r.query["labelSelector"] for r in pages} == {"backstage.io/kubernetes-id"}


def test_unlabelled_workloads_are_not_even_listed(clusters: Clusters) -> None:
    clusters.alpha.apply(deployment("plain"), deployment("api", "shop"))
    assert names(read_all(live_source(clusters, "alpha"))["alpha"]) == ["Deployment/api"]


# --- row 29: cluster unreachable mid-list ---------------------------------------------------


def test_row29_a_reset_after_page_one_fails_that_cluster_only(clusters: Clusters) -> None:
    seed(clusters.alpha, 5)
    clusters.beta.apply(deployment("api", "shop"))
    clusters.alpha.fault(Fault(DEPLOYMENTS, with_continue=True, reset_after=40))

    reads = read_all(live_source(clusters, "alpha", "beta"))

    failure = reads["alpha"]
    assert isinstance(failure, ScopeFailure) and failure.kind is FailureKind.UNREACHABLE
    assert names(reads["beta"]) == ["Deployment/api"]


def test_row29_unreachable_mid_list_deletes_nothing_in_the_catalog(
    clusters: Clusters, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(clusters.alpha, 5)
    config = k8s_config(clusters, "alpha")
    source = live_source(clusters, "alpha")
    with store_at(tmp_path) as store:
        assert run_sync(monkeypatch, store, source, config).exit_code == 0
        assert annotations_of(store, "component:default/app4")["trueup.io/replicas"] == "2/2"

        clusters.alpha.fault(Fault(DEPLOYMENTS, with_continue=True, reset_after=40))
        clusters.alpha.apply(deployment("d4", "app4", ready=0))
        outcome = run_sync(monkeypatch, store, source, config, now=LATER)

        assert outcome.exit_code == 2
        assert [f.kind for f in outcome.failures] == [FailureKind.UNREACHABLE]
        for i in range(5):  # all still there, with the last good status
            assert annotations_of(store, f"component:default/app{i}")["trueup.io/replicas"] == "2/2"


@pytest.mark.parametrize("context", ["wrong-ca", "down"])
def test_row29_tls_mismatch_and_refused_connection_are_unreachable(
    clusters: Clusters, context: str
) -> None:
    clusters.alpha.apply(deployment("api", "shop"))
    reads = read_all(live_source(clusters, context, "alpha"))
    failure = reads[context]
    assert isinstance(failure, ScopeFailure) and failure.kind is FailureKind.UNREACHABLE
    if context == "wrong-ca":
        assert "CERTIFICATE_VERIFY_FAILED" in failure.message
    assert names(reads["alpha"]) == ["Deployment/api"]


# --- row 30: continue token expired ----------------------------------------------------------


def _token_rv(token: str) -> int:
    return int(json.loads(base64.b64decode(token))["rv"])


def test_row30_a_410_on_the_third_continue_restarts_one_consistent_list(
    clusters: Clusters,
) -> None:
    seed(clusters.alpha, 7)  # four pages of two
    server = clusters.alpha

    def change_between_attempts() -> None:
        server.delete(deployment("d0", "app0"))
        server.apply(deployment("d9", "app9"), deployment("d6", "app6", ready=1))

    server.fault(
        Fault(
            DEPLOYMENTS,
            status=410,
            message="The provided continue parameter is too old",
            with_continue=True,
            skip=2,
            action=change_between_attempts,
        )
    )
    read = snapshot(read_all(live_source(clusters, "alpha"))["alpha"])

    calls = server.requests_to(DEPLOYMENTS)
    assert [bool(r.query.get("continue")) for r in calls] == [
        *(False, True, True, True),  # the third continue answered 410
        *(False, True, True, True),  # a new list from the first page
    ]
    second = [_token_rv(r.query["continue"]) for r in calls[5:]]
    assert len(set(second)) == 1  # every page of the result at one resourceVersion
    assert second[0] > _token_rv(calls[1].query["continue"])
    # exactly the state at the new version: d0 gone, d9 there, d6 changed; no mix
    assert names(read) == [f"Deployment/d{i}" for i in (1, 2, 3, 4, 5, 6, 9)]
    statuses = {o.ref.name: o.status["replicas"] for o in read.observations}
    assert statuses["app6"] == "1/2"


def test_row30_a_list_that_keeps_expiring_fails_its_type_and_keeps_its_objects(
    clusters: Clusters,
) -> None:
    seed(clusters.alpha, 5)
    clusters.alpha.apply(service("api", "shop"))
    source = live_source(clusters, "alpha")
    first = snapshot(read_all(source)["alpha"])

    clusters.alpha.fault(Fault(DEPLOYMENTS, status=410, with_continue=True, times=-1))
    clusters.alpha.apply(service("web", "shop"))
    again = snapshot(read_all(source, previous={"alpha": first})["alpha"])

    assert names(again, "Deployment") == [f"Deployment/d{i}" for i in range(5)]
    assert names(again, "Service") == ["Service/api", "Service/web"]
    carried = [o for o in again.observations if "Deployment" in o.provenance.locator]
    assert {o.provenance.observed_at for o in carried} == {NOW}
    (found,) = problems(again)
    assert "deployments.apps" in found.message and "read failed" in found.message


# --- row 33: 429 on a list ----------------------------------------------------------------


def test_row33_a_429_on_page_two_waits_retry_after_and_asks_the_same_page(
    clusters: Clusters,
) -> None:
    seed(clusters.alpha, 5)
    sleeps: list[float] = []
    clusters.alpha.fault(Fault(DEPLOYMENTS, status=429, retry_after=3, with_continue=True))

    read = read_all(live_source(clusters, "alpha", sleeps=sleeps))["alpha"]

    assert sleeps == [3.0]
    calls = clusters.alpha.requests_to(DEPLOYMENTS)
    assert len(calls) == 4 and calls[1].query["continue"] == calls[2].query["continue"]
    assert names(read) == [f"Deployment/d{i}" for i in range(5)]


def test_row33_rate_limited_for_good_is_a_rate_limited_type_not_an_empty_one(
    clusters: Clusters,
) -> None:
    seed(clusters.alpha, 3)
    source = live_source(clusters, "alpha", max_retries=2)
    first = snapshot(read_all(source)["alpha"])
    clusters.alpha.fault(Fault(DEPLOYMENTS, status=429, retry_after=1, times=-1))
    clusters.alpha.apply(service("api", "shop"))

    sleeps: list[float] = []
    source.sleep = sleeps.append
    again = snapshot(read_all(source, previous={"alpha": first})["alpha"])

    assert sleeps == [1.0, 1.0]
    assert names(again) == ["Deployment/d0", "Deployment/d1", "Deployment/d2", "Service/api"]
    (found,) = problems(again)
    assert found.evidence["kind"] == "rate-limited" and "rate limited" in found.message


def test_row33_a_retry_after_beyond_the_limit_is_not_waited_for(clusters: Clusters) -> None:
    seed(clusters.alpha, 1)
    clusters.alpha.fault(Fault(DEPLOYMENTS, status=429, retry_after=3600, times=-1))
    sleeps: list[float] = []
    read = snapshot(read_all(live_source(clusters, "alpha", sleeps=sleeps))["alpha"])
    assert sleeps == []
    assert "Retry-After 3600s" in problems(read)[0].message


# --- row 34: 403 / 404 on one type ------------------------------------------------------------


def test_row34_403_on_one_type_keeps_it_no_access_and_reads_the_others(
    clusters: Clusters, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clusters.alpha.apply(deployment("api", "shop"), service("api", "shop"))
    config = k8s_config(clusters, "alpha")
    source = live_source(clusters, "alpha")
    with store_at(tmp_path) as store:
        run_sync(monkeypatch, store, source, config)
        clusters.alpha.fault(
            Fault(
                DEPLOYMENTS, status=403, message='deployments.apps is forbidden: User "x"', times=-1
            )
        )
        clusters.alpha.apply(service("web", "shop"))
        clusters.alpha.apply(deployment("api", "shop", ready=0))
        outcome = run_sync(monkeypatch, store, source, config, now=LATER)

        (read,) = outcome.snapshots
        assert names(read) == ["Deployment/api", "Service/api", "Service/web"]
        (found,) = problems(read)
        assert found.evidence["kind"] == "forbidden" and "no access" in found.message
        assert found.evidence["resource"] == "deployments.apps"
        # the deployment is still shown with its last known status, not the unseen change
        assert annotations_of(store, "component:default/shop")["trueup.io/replicas"] == "2/2"


def test_row34_a_missing_crd_is_not_installed_which_is_not_empty(clusters: Clusters) -> None:
    clusters.alpha.apply(ARGO_CRD, application("shop", status=healthy_status()))
    source = live_source(clusters, "alpha")
    first = snapshot(read_all(source)["alpha"])
    assert names(first) == ["Application/shop"]

    clusters.alpha.delete(ARGO_CRD)  # the group disappears: /apis/argoproj.io/v1alpha1 is 404
    gone = snapshot(read_all(source, previous={"alpha": first})["alpha"])
    assert names(gone) == ["Application/shop"]  # kept (and will turn stale)
    (found,) = [f for f in gone.findings if f.evidence["resource"].startswith("Application")]
    assert found.evidence["kind"] == "not-installed" and "not installed" in found.message

    clusters.alpha.apply(ARGO_CRD)  # installed again, and really empty now
    empty = snapshot(read_all(source, previous={"alpha": gone})["alpha"])
    assert names(empty) == []
    assert not [f for f in empty.findings if f.evidence["resource"].startswith("Application")]


def test_row34_404_on_discovery_of_one_group_leaves_other_groups_alone(clusters: Clusters) -> None:
    clusters.alpha.apply(ARGO_CRD, application("shop"), deployment("api", "shop"))
    clusters.alpha.fault(Fault(r"^/apis/argoproj.io/v1alpha1$", status=404, times=-1))
    read = snapshot(read_all(live_source(clusters, "alpha"))["alpha"])
    assert names(read) == ["Deployment/api"]
    assert {f.evidence["kind"] for f in read.findings} == {"not-installed"}
    assert any(f.evidence["resource"].startswith("Application") for f in read.findings)


def _app_in(namespace: str, name: str, health: str) -> dict[str, object]:
    status = healthy_status()
    status["health"]["status"] = health
    app = application(name, status=status)
    app["metadata"]["namespace"] = namespace
    return app


def test_row34_403_in_one_namespace_carries_over_only_that_namespace(
    clusters: Clusters, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forbidden namespace carries over its own objects, not the other namespaces' old ones."""
    clusters.alpha.apply(
        ARGO_CRD, _app_in("argocd", "shop", "Degraded"), _app_in("team", "site", "Healthy")
    )
    extra: dict[str, Any] = {"namespaces": ["argocd", "team"], "collect": ["argocd"]}
    config = k8s_config(clusters, "alpha", **extra)
    source = live_source(clusters, "alpha", **extra)
    with store_at(tmp_path) as store:
        run_sync(monkeypatch, store, source, config)
        clusters.alpha.fault(Fault(r"/namespaces/team/applications$", status=403, times=-1))
        clusters.alpha.apply(_app_in("argocd", "shop", "Healthy"))  # read completely: now Healthy
        outcome = run_sync(monkeypatch, store, source, config, now=LATER)

        (read,) = outcome.snapshots
        # shop once (as read now), site carried over from the forbidden namespace
        assert names(read) == ["Application/shop", "Application/site"]
        (found,) = problems(read)
        assert found.evidence["kind"] == "forbidden"
        # the namespace read completely shows what it holds now, not a carried-over old status
        for name in ("shop", "site"):
            health = annotations_of(store, f"component:default/{name}")["trueup.io/argocd-health"]
            assert health == "Healthy", name


def test_row34_every_type_forbidden_fails_the_scope(clusters: Clusters) -> None:
    clusters.alpha.fault(Fault(r"^/(api|apis)/", status=403, times=-1))
    read = read_all(live_source(clusters, "alpha", collect=["workloads"]))["alpha"]
    assert isinstance(read, ScopeFailure) and read.kind is FailureKind.FORBIDDEN


# --- row 36: kubeconfig problems and identity ------------------------------------------------


def test_row36_credential_problems_fail_their_scope_only(clusters: Clusters) -> None:
    clusters.beta.apply(deployment("api", "shop"))
    source = live_source(clusters, "beta", "expired", "exec-fails", "nope", allow_exec=True)
    reads = read_all(source)

    assert names(reads["beta"]) == ["Deployment/api"]
    for scope in ("expired", "exec-fails"):  # the plugin ran (allowed) and failed: no token
        failure = reads[scope]
        assert isinstance(failure, ScopeFailure) and failure.kind is FailureKind.FORBIDDEN
        assert "401" in failure.message
    unknown = reads["nope"]
    assert isinstance(unknown, ScopeFailure) and unknown.kind is FailureKind.INVALID
    assert "'nope'" in unknown.message


def test_row36_two_contexts_on_one_server_are_two_scopes_never_mixed(clusters: Clusters) -> None:
    clusters.beta.apply(deployment("api", "shop"))
    reads = read_all(live_source(clusters, "beta", "beta-again"))
    for scope in ("beta", "beta-again"):
        read = snapshot(reads[scope])
        assert read.scope == scope
        assert {o.provenance.scope for o in read.observations} == {scope}
        assert all(o.provenance.locator.startswith(f"{scope}/") for o in read.observations)
        assert all(o.place and o.place.startswith(f"{scope}/") for o in read.observations)


def test_row36_a_context_whose_server_changed_carries_nothing_over(clusters: Clusters) -> None:
    clusters.alpha.apply(ARGO_CRD, application("old-app"))
    clusters.beta.apply(deployment("api", "shop"))
    source = live_source(clusters, "beta")
    before = snapshot(read_all(live_source(clusters, "alpha"))["alpha"])
    # the same scope name was last read from alpha's server; beta has no Argo CD
    pretend = replace(before, scope="beta")
    read = snapshot(read_all(source, previous={"beta": pretend})["beta"])
    assert names(read) == ["Deployment/api"]  # old-app is not carried over from another cluster
    kinds = {f.evidence["kind"] for f in read.findings}
    assert kinds == {"not-installed", "cluster-changed"}
    changed = next(f for f in read.findings if f.evidence["kind"] == "cluster-changed")
    assert clusters.alpha.url in changed.message and clusters.beta.url in changed.message


# --- the same Kind in two API groups ----------------------------------------------------------

SIG_APP_CRD = crd("app.k8s.io", "Application", "applications", versions=("v1beta1",))
SIG_APP_MAPPING = {
    "apiVersion": "app.k8s.io/v1beta1",
    "kind": "Application",
    "ref": "join('', ['system:', metadata.name])",
}


def _sig_app(name: str) -> dict[str, object]:
    return {
        "apiVersion": "app.k8s.io/v1beta1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {},
    }


def test_a_failed_kind_carries_over_its_own_group_not_another_of_the_same_kind(
    clusters: Clusters,
) -> None:
    """An Application (app.k8s.io) mapped beside Argo CD's: one failing keeps only its own."""
    clusters.alpha.apply(
        ARGO_CRD,
        SIG_APP_CRD,
        _app_in("argocd", "shop", "Degraded"),
        _app_in("argocd", "retired", "Healthy"),
        _sig_app("catalog"),
    )
    extra: dict[str, Any] = {"collect": ["argocd"], "mappings": [SIG_APP_MAPPING]}
    source = live_source(clusters, "alpha", **extra)
    first = snapshot(read_all(source)["alpha"])
    assert len(first.observations) == 3

    clusters.alpha.fault(Fault(r"^/apis/app.k8s.io/v1beta1/applications$", status=403, times=-1))
    clusters.alpha.apply(_app_in("argocd", "shop", "Healthy"))
    clusters.alpha.delete(_app_in("argocd", "retired", "Healthy"))
    read = snapshot(read_all(source, previous={"alpha": first}, now=LATER)["alpha"])

    # Argo CD's Applications as read now (shop once, retired gone); catalog carried over
    assert sorted((str(o.ref), o.provenance.observed_at) for o in read.observations) == [
        ("component:default/shop", LATER),
        ("system:default/catalog", NOW),
    ]
    (found,) = problems(read)
    assert found.evidence["kind"] == "forbidden"


def test_objects_read_before_their_kind_became_ambiguous_are_still_carried_over(
    clusters: Clusters,
) -> None:
    """A previous read named them ``Application`` alone: kept rather than lost when theirs fails."""
    clusters.alpha.apply(ARGO_CRD, SIG_APP_CRD, _app_in("argocd", "shop", "Degraded"))
    before = snapshot(read_all(live_source(clusters, "alpha", collect=["argocd"]))["alpha"])
    assert names(before) == ["Application/shop"]

    clusters.alpha.fault(Fault(r"^/apis/argoproj.io/v1alpha1/applications$", status=403, times=-1))
    clusters.alpha.apply(_sig_app("catalog"))
    source = live_source(clusters, "alpha", collect=["argocd"], mappings=[SIG_APP_MAPPING])
    read = snapshot(read_all(source, previous={"alpha": before}, now=LATER)["alpha"])
    assert names(read) == ["Application.app.k8s.io/catalog", "Application/shop"]


def read_with_site_health(clusters: Clusters, health: str) -> Snapshot:
    """A live read of ``alpha``: app ``shop`` healthy, app ``site`` with health ``health``."""
    broken = healthy_status()
    broken["health"] = {"status": health}
    clusters.alpha.apply(
        ARGO_CRD, application("shop", status=healthy_status()), application("site", status=broken)
    )
    return snapshot(read_all(live_source(clusters, "alpha"))["alpha"])


def forbidden_deployments(
    clusters: Clusters, store: Store, monkeypatch: pytest.MonkeyPatch, message: str
) -> Finding:
    """A sync whose list of deployments is refused (403) with ``message``: its finding."""
    clusters.alpha.apply(deployment("api", "shop"), service("api", "shop"))
    clusters.alpha.fault(Fault(DEPLOYMENTS, status=403, message=message, times=-1))
    config = k8s_config(clusters, "alpha")
    outcome = run_sync(monkeypatch, store, live_source(clusters, "alpha"), config)
    assert outcome.summary is not None  # committed, on PostgreSQL too
    (found,) = [f for f in store.findings() if f.evidence.get("resource") == "deployments.apps"]
    return found


def test_an_object_whose_status_holds_a_nul_is_refused_with_a_finding(
    clusters: Clusters,
) -> None:
    read = read_with_site_health(clusters, "Healthy\0")
    assert names(read) == ["Application/shop"]
    (found,) = [f for f in read.findings if f.evidence.get("rule") == "nul-character"]
    assert found.evidence["field"] == "status.argocd-health"
    assert str(found.evidence["locator"]).startswith("alpha/argocd/Application/site@")
    assert "alpha/argocd/Application/site" in found.message and "\0" not in found.message


def test_a_nul_in_an_api_error_message_is_shown_escaped_and_the_sync_commits(
    clusters: Clusters, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = forbidden_deployments(
        clusters, store, monkeypatch, "deployments.apps is forbidden\0here"
    )
    assert "deployments.apps is forbidden\\0here" in found.message


def test_a_lone_surrogate_in_an_api_error_message_is_shown_escaped_and_the_sync_commits(
    clusters: Clusters, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = forbidden_deployments(  # the server sends it as the JSON escape "\ud800"
        clusters, store, monkeypatch, "deployments.apps is forbidden\ud800here"
    )
    assert "deployments.apps is forbidden\\ud800here" in found.message


def test_an_object_whose_status_holds_a_lone_surrogate_is_refused_with_a_finding(
    clusters: Clusters,
) -> None:
    read = read_with_site_health(clusters, "Healthy\udc80")
    assert names(read) == ["Application/shop"]
    (found,) = [f for f in read.findings if f.evidence.get("rule") == "lone-surrogate"]
    assert found.evidence["field"] == "status.argocd-health"
    assert "alpha/argocd/Application/site" in found.message
