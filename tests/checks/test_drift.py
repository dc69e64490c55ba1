"""``drift`` (SPEC 7): an Argo CD app whose deployed revision is behind the source branch.

The revision that runs (the last sync's) is compared with the head a git source
read of the branch the app tracks; an app that never synced is compared by the
revision Argo CD compared against. A target revision that is missing or Unknown
is Argo CD's default, ``HEAD``. What is not known (no revision yet, no single
repository) is never drift by itself.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.assemble.builders import (
    NOW,
    argo_app,
    catalog_snapshot,
    component,
    group,
    policy,
    snapshot,
    system,
)
from trueup.assemble.assembler import ScopeState, assemble
from trueup.model.assembled import AssembledEntity
from trueup.model.observation import Observation
from trueup.model.ref import EntityRef
from trueup.model.repository import Head

HEAD = "b" * 40
OLD = "a" * 40
REPO = "https://github.com/acme/shop.git"
HEADS = {"github.com/acme/shop": Head("main", HEAD)}
PLACE = "prod-eu/in-cluster/payments"


def _app(
    *,
    deployed: str | None = None,
    compared: str = "",
    repo: str | None = REPO,
    target: str | None = "main",
    sync: str = "Synced",
    health: str = "Healthy",
) -> Observation:
    """An Argo CD Application's status values as the collector passes them on."""
    app = argo_app("payments", sync=sync, health=health)
    status = {**app.status, "argocd-revision": compared}
    if deployed is not None:
        status["argocd-deployed-revision"] = deployed
    if repo is not None:
        status["argocd-repo"] = repo
    if target is not None:
        status["argocd-target-revision"] = target
    return replace(app, status=status)


def _payments(app: Observation, heads: dict[str, Head] = HEADS) -> AssembledEntity:
    catalog = catalog_snapshot(group("team-a"), system("shop"), component("payments"))
    clusters = snapshot("clusters", "prod-eu", app)
    result = assemble([catalog, clusters], policy(), now=NOW, scopes=ScopeState(heads=heads))
    return result.entities[EntityRef.of("component", None, "payments")]


def _drift(entity: AssembledEntity) -> tuple[list[str], str]:
    """The drift findings' messages and the ``trueup.io/drift`` annotation."""
    messages = [f.message for f in entity.findings if f.code == "drift"]
    return messages, entity.entity["metadata"]["annotations"]["trueup.io/drift"]


BEHIND = f"deploys aaaaaaaaaaaa at {PLACE}, but main is at bbbbbbbbbbbb"


def test_an_app_deploying_exactly_the_branch_head_is_not_drift() -> None:
    entity = _payments(_app(deployed=HEAD, compared=HEAD))
    assert _drift(entity) == ([], "none")
    assert entity.findings == ()


@pytest.mark.parametrize("short", [HEAD[:7], HEAD[:12]])
def test_a_short_commit_id_of_the_head_is_the_head(short: str) -> None:
    assert _drift(_payments(_app(deployed=short, compared=short))) == ([], "none")


def test_a_deployed_revision_behind_the_head_is_one_drift_finding() -> None:
    entity = _payments(_app(deployed=OLD, compared=OLD))
    assert _drift(entity) == ([BEHIND], f"revision-behind-main@{PLACE}")
    [drift] = [f for f in entity.findings if f.code == "drift"]
    assert drift.evidence == {
        "key": "argocd-revision",
        "place": PLACE,
        "deployed": OLD,
        "branch": "main",
        "head": HEAD,
    }


def test_what_runs_is_compared_not_what_argo_cd_compared_against() -> None:
    # OutOfSync: Argo CD already compares against the new head, the old commit still runs
    running_old = _payments(_app(deployed=OLD, compared=HEAD, sync="OutOfSync"))
    messages, summary = _drift(running_old)
    assert BEHIND in messages
    assert summary == f"argocd-sync=OutOfSync@{PLACE}, revision-behind-main@{PLACE}"
    # the head runs; the revision compared against does not matter
    assert _drift(_payments(_app(deployed=HEAD, compared=OLD))) == ([], "none")


def test_an_app_that_never_synced_is_compared_by_the_revision_argo_cd_compared_against() -> None:
    assert _drift(_payments(_app(deployed="", compared=OLD))) == (
        [BEHIND],
        f"revision-behind-main@{PLACE}",
    )
    assert _drift(_payments(_app(deployed="", compared=HEAD))) == ([], "none")
    assert _drift(_payments(_app(deployed=None, compared=OLD)))[0] == [BEHIND]


def test_an_app_with_a_repository_but_no_revision_yet_is_not_revision_drift() -> None:
    entity = _payments(_app(deployed="", compared="", sync="OutOfSync", health="Missing"))
    messages, summary = _drift(entity)
    assert messages == [
        f"argocd-health is Missing at {PLACE}",
        f"argocd-sync is OutOfSync at {PLACE}",
    ]
    assert "revision-behind" not in summary


@pytest.mark.parametrize(
    "target",
    [None, "", "HEAD", "main", "refs/heads/main"],
    ids=["missing", "unknown", "HEAD", "branch", "full-ref"],
)
def test_a_missing_or_unknown_target_revision_tracks_the_default_branch(target: str | None) -> None:
    assert _drift(_payments(_app(deployed=OLD, compared=OLD, target=target)))[0] == [BEHIND]


@pytest.mark.parametrize("target", ["release-1", "v1.2.0", OLD])
def test_an_app_pinned_elsewhere_is_not_compared_with_the_branch(target: str) -> None:
    assert _drift(_payments(_app(deployed=OLD, compared=OLD, target=target))) == ([], "none")


@pytest.mark.parametrize("repo", [None, ""], ids=["missing", "multi-source"])
def test_an_app_without_a_single_repository_is_not_compared(repo: str | None) -> None:
    assert _drift(_payments(_app(deployed=OLD, compared=OLD, repo=repo))) == ([], "none")


def test_nothing_is_compared_when_no_git_source_read_a_head() -> None:
    assert _drift(_payments(_app(deployed=OLD, compared=OLD), heads={})) == ([], "none")
