"""The kubernetes source in snapshot mode, over real export files in a temp folder."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from trueup.config import Config
from trueup.errors import ConfigError
from trueup.model.observation import FailureKind, Nature, ScopeFailure, ScopeRead, Snapshot
from trueup.model.ref import EntityRef
from trueup.pipeline import sync
from trueup.sources.base import ReadContext
from trueup.sources.kubernetes import KubernetesSnapshotSource
from trueup.sources.kubernetes.collectors import collect
from trueup.sources.kubernetes.config import KubernetesSourceConfig
from trueup.sources.kubernetes.snapshot import export_fingerprint
from trueup.sources.lstat_memo import RACY_NS, stat_key
from trueup.store import Store

from .opens import opened_during

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
EXPORTED = datetime(2025, 5, 30, 8, 30, tzinfo=UTC)


def deployment(
    name: str,
    *,
    kubernetes_id: str | None = None,
    namespace: str = "payments",
    replicas: int | None = 3,
    ready: int | None = 2,
    images: tuple[str, ...] = ("ghcr.io/acme/api:1.2.3",),
    kind: str = "Deployment",
) -> dict[str, Any]:
    labels = {"app": name} | (
        {"backstage.io/kubernetes-id": kubernetes_id} if kubernetes_id else {}
    )
    spec: dict[str, Any] = {
        "template": {
            "spec": {
                "containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
            }
        }
    }
    if replicas is not None:
        spec["replicas"] = replicas
    status = {} if ready is None else {"readyReplicas": ready}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "resourceVersion": "4711",
        },
        "spec": spec,
        "status": status,
    }


def application(name: str, *, status: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    app: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": "argocd",
            "resourceVersion": "99",
            "labels": extra.pop("labels", {}),
        },
        "spec": {
            "project": "default",
            "source": {
                "repoURL": "https://github.com/acme/deploy.git",
                "path": f"apps/{name}",
                "targetRevision": "main",
            },
            "destination": extra.pop(
                "destination", {"server": "https://kubernetes.default.svc", "namespace": name}
            ),
        },
    }
    if status is not None:
        app["status"] = status
    return app


def full_status(health: str = "Healthy") -> dict[str, Any]:
    return {
        "sync": {"status": "Synced", "revision": "abc123"},
        "health": {"status": health},
        "operationState": {"phase": "Succeeded"},
    }


def write_list(
    path: Path,
    items: list[dict[str, Any]],
    *,
    resource_version: str = "",
    mtime: datetime = EXPORTED,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "List",
                "metadata": {"resourceVersion": resource_version},
                "items": items,
            }
        )
    )
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def read(
    snapshot: str,
    previous: list[ScopeRead] | None = None,
    scopes: frozenset[str] | None = None,
    **config: Any,
) -> list[ScopeRead]:
    """Read the exports; ``previous`` are the reads of an earlier sync (its snapshots kept)."""
    source = KubernetesSnapshotSource(
        KubernetesSourceConfig(id="snapshots", type="kubernetes", snapshot=snapshot, **config)
    )
    kept = {r.scope: r for r in previous or [] if isinstance(r, Snapshot)}
    return list(source.observe(ReadContext(now=lambda: NOW, previous=kept, scopes=scopes)))


def only_snapshot(reads: list[ScopeRead]) -> Snapshot:
    assert len(reads) == 1
    assert isinstance(reads[0], Snapshot), reads[0]
    return reads[0]


# --- workloads -------------------------------------------------------------------


def test_a_labelled_deployment_is_observed_with_replicas_images_and_link(tmp_path: Path) -> None:
    write_list(
        tmp_path / "prod-eu.json",
        [deployment("payments-api", kubernetes_id="payments", images=("a:1", "b:2"))],
    )
    snap = only_snapshot(read(str(tmp_path / "prod-eu.json")))

    assert snap.source == "snapshots" and snap.scope == "prod-eu"
    assert snap.nature is Nature.ACTUAL and snap.read_at == NOW
    (obs,) = snap.observations
    assert obs.ref == EntityRef("component", "default", "payments")
    assert obs.nature is Nature.ACTUAL
    assert obs.provenance.locator == "prod-eu/payments/Deployment/payments-api@4711"
    assert obs.place == "prod-eu/payments"
    assert obs.fields == {"metadata.annotations.backstage.io/kubernetes-id": "payments"}
    assert obs.status == {"replicas": "2/3", "images": "a:1,b:2"}
    assert obs.links == (("backstage.io/kubernetes-id", "payments"),)
    assert obs.labels == {"app": "payments-api", "backstage.io/kubernetes-id": "payments"}


def test_deployments_without_the_label_are_ignored(tmp_path: Path) -> None:
    write_list(tmp_path / "c.json", [deployment("sidecar"), deployment("api", kubernetes_id="api")])
    snap = only_snapshot(read(str(tmp_path / "c.json")))
    assert [o.ref.name for o in snap.observations] == ["api"]


def test_replicas_default_to_one_desired_and_zero_ready() -> None:
    collected = collect(
        [deployment("x", kubernetes_id="x", replicas=None, ready=None)],
        source="s",
        scope="c",
        observed_at=NOW,
    )
    assert collected.observations[0].status["replicas"] == "0/1"


def test_statefulsets_and_daemonsets_are_workloads_too() -> None:
    daemonset = deployment("agent", kubernetes_id="agent", kind="DaemonSet", replicas=None)
    daemonset["status"] = {"numberReady": 4, "desiredNumberScheduled": 5}
    collected = collect(
        [deployment("db", kubernetes_id="db", kind="StatefulSet", replicas=3, ready=3), daemonset],
        source="s",
        scope="c",
        observed_at=NOW,
    )
    assert [(o.ref.name, o.status["replicas"]) for o in collected.observations] == [
        ("db", "3/3"),
        ("agent", "4/5"),
    ]
    assert collected.observations[0].provenance.locator == "c/payments/StatefulSet/db@4711"


def test_unknown_kinds_and_unlabelled_workloads_are_counted_not_collected() -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"}}
    collected = collect(
        [config_map, service, deployment("plain"), "not an object"],
        source="s",
        scope="c",
        observed_at=NOW,
    )
    assert collected.observations == ()
    assert collected.skipped == {
        "v1/ConfigMap": 1,
        "Service without backstage.io/kubernetes-id": 1,
        "Deployment without backstage.io/kubernetes-id": 1,
        "/": 1,
    }


def test_hostile_field_types_do_not_crash_a_collector() -> None:
    bad = deployment("x", kubernetes_id="x")
    bad["spec"] = {"replicas": "three", "template": {"spec": {"containers": "nope"}}}
    bad["status"] = ["not", "a", "mapping"]
    (obs,) = collect([bad], source="s", scope="c", observed_at=NOW).observations
    assert obs.status == {"replicas": "0/1", "images": ""}


# --- Argo CD --------------------------------------------------------------------------


def test_an_argocd_application_with_a_complete_status(tmp_path: Path) -> None:
    write_list(tmp_path / "hub.json", [application("payments", status=full_status())])
    (obs,) = only_snapshot(read(str(tmp_path / "hub.json"))).observations

    assert obs.ref == EntityRef("component", "default", "payments")
    assert obs.provenance.locator == "hub/argocd/Application/payments@99"
    assert obs.place == "hub/in-cluster/payments"
    assert obs.fields == {"metadata.annotations.argocd/app-name": "payments"}
    assert obs.status == {
        "argocd-sync": "Synced",
        "argocd-health": "Healthy",
        "argocd-revision": "abc123",
        "argocd-operation": "Succeeded",
        "argocd-source": "https://github.com/acme/deploy.git/apps/payments",
        "argocd-deployed-revision": "",
        "argocd-repo": "https://github.com/acme/deploy.git",
        "argocd-target-revision": "main",
        "argocd-resource-health": "not reported",
    }
    assert obs.links == (("argocd/app-name", "payments"),)
    assert obs.selectors == ("argocd/app-selector",)


def test_an_application_without_status_reports_empty_values_never_healthy() -> None:
    (obs,) = collect([application("orders")], source="s", scope="hub", observed_at=NOW).observations
    assert obs.status["argocd-sync"] == ""
    assert obs.status["argocd-health"] == ""
    assert obs.status["argocd-revision"] == ""
    assert obs.status["argocd-operation"] == ""


def test_an_unknown_health_value_is_passed_through_verbatim() -> None:
    app = application("orders", status=full_status(health="Exploding"))
    (obs,) = collect([app], source="s", scope="hub", observed_at=NOW).observations
    assert obs.status["argocd-health"] == "Exploding"


def test_the_kubernetes_id_label_names_the_component_and_adds_a_link() -> None:
    app = application(
        "payments-prod",
        labels={"backstage.io/kubernetes-id": "payments", "team": "pay"},
        destination={"name": "prod-eu", "namespace": "payments"},
    )
    (obs,) = collect([app], source="s", scope="hub", observed_at=NOW).observations
    assert obs.ref == EntityRef("component", "default", "payments")
    assert obs.links == (
        ("argocd/app-name", "payments-prod"),
        ("backstage.io/kubernetes-id", "payments"),
    )
    assert obs.labels == {"backstage.io/kubernetes-id": "payments", "team": "pay"}
    assert obs.place == "hub/prod-eu/payments"


def test_a_destination_server_is_shown_by_its_host() -> None:
    app = application("a", destination={"server": "https://10.0.0.7:6443", "namespace": "apps"})
    (obs,) = collect([app], source="s", scope="hub", observed_at=NOW).observations
    assert obs.place == "hub/10.0.0.7/apps"


def test_argocd_can_be_left_out_by_collect(tmp_path: Path) -> None:
    write_list(tmp_path / "hub.json", [application("a"), deployment("d", kubernetes_id="d")])
    snap = only_snapshot(read(str(tmp_path / "hub.json"), collect=["workloads"]))
    assert [o.ref.name for o in snap.observations] == ["d"]


# --- scopes, versions and age ----------------------------------------------------------


def test_each_file_and_folder_of_a_glob_is_one_scope_named_without_extension(
    tmp_path: Path,
) -> None:
    exports = tmp_path / "exports"
    write_list(exports / "prod-eu.json", [deployment("a", kubernetes_id="a")])
    write_list(exports / "hub" / "workloads.json", [deployment("b", kubernetes_id="b")])
    write_list(exports / "hub" / "argocd.json", [application("c", status=full_status())])
    (exports / "README.md").write_text("exports of our clusters")

    reads = read(str(exports / "*"))

    assert all(isinstance(r, Snapshot) for r in reads)
    by_scope = {r.scope: r for r in reads if isinstance(r, Snapshot)}
    assert sorted(by_scope) == ["hub", "prod-eu"]
    assert sorted(o.ref.name for o in by_scope["hub"].observations) == ["b", "c"]
    assert [o.ref.name for o in by_scope["prod-eu"].observations] == ["a"]


def test_observed_at_is_the_newest_modification_time_of_the_scope(tmp_path: Path) -> None:
    older = datetime(2025, 5, 1, tzinfo=UTC)
    write_list(tmp_path / "hub" / "a.json", [deployment("a", kubernetes_id="a")], mtime=older)
    write_list(tmp_path / "hub" / "b.json", [deployment("b", kubernetes_id="b")], mtime=EXPORTED)

    snap = only_snapshot(read(str(tmp_path / "hub")))

    assert {o.provenance.observed_at for o in snap.observations} == {EXPORTED}
    assert snap.observations[0].provenance.observed_at.tzinfo is not None


def test_the_version_is_the_list_resource_version_else_a_content_hash(tmp_path: Path) -> None:
    write_list(tmp_path / "a.json", [], resource_version="12345")
    write_list(tmp_path / "b.json", [deployment("x", kubernetes_id="x")])
    assert only_snapshot(read(str(tmp_path / "a.json"))).version == "12345"
    first = only_snapshot(read(str(tmp_path / "b.json"))).version
    assert len(first) == 12
    write_list(tmp_path / "b.json", [deployment("y", kubernetes_id="y")])
    assert only_snapshot(read(str(tmp_path / "b.json"))).version != first


def test_a_single_object_file_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text(json.dumps(deployment("x", kubernetes_id="x")))
    assert [o.ref.name for o in only_snapshot(read(str(tmp_path / "one.json"))).observations] == [
        "x"
    ]


# --- failures -------------------------------------------------------------------------


def test_invalid_json_is_a_scope_failure_naming_the_file_and_position(tmp_path: Path) -> None:
    write_list(tmp_path / "good.json", [deployment("a", kubernetes_id="a")])
    (tmp_path / "broken.json").write_text('{"apiVersion": "v1",\n  "kind": "List", "items": [}')

    reads = {r.scope: r for r in read(str(tmp_path / "*.json"))}

    assert isinstance(reads["good"], Snapshot)
    failure = reads["broken"]
    assert isinstance(failure, ScopeFailure)
    assert failure.kind is FailureKind.INVALID
    assert str(tmp_path / "broken.json") in failure.message
    assert "line 2 column 29" in failure.message
    assert failure.at == NOW


@pytest.mark.parametrize(
    "content",
    [
        "[1, 2, 3]",
        '{"metadata": {}}',
        '{"apiVersion": "v1", "kind": "List", "items": {"a": 1}}',
        b"\xff\xfe{}",
    ],
    ids=["array", "no-kind", "items-not-a-list", "not-utf8"],
)
def test_a_file_that_is_not_a_list_is_a_scope_failure(tmp_path: Path, content: str | bytes) -> None:
    path = tmp_path / "bad.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    (failure,) = read(str(path))
    assert isinstance(failure, ScopeFailure)
    assert failure.scope == "bad" and failure.kind is FailureKind.INVALID
    assert str(path) in failure.message


def test_one_broken_file_fails_its_whole_folder_scope(tmp_path: Path) -> None:
    write_list(tmp_path / "hub" / "a.json", [deployment("a", kubernetes_id="a")])
    (tmp_path / "hub" / "b.json").write_text("{")
    (failure,) = read(str(tmp_path / "hub"))
    assert isinstance(failure, ScopeFailure) and failure.scope == "hub"
    assert "b.json" in failure.message


def test_an_empty_export_folder_is_a_failure_not_an_empty_cluster(tmp_path: Path) -> None:
    (tmp_path / "hub").mkdir()
    (failure,) = read(str(tmp_path / "hub"))
    assert isinstance(failure, ScopeFailure) and failure.kind is FailureKind.INVALID


def test_nothing_matching_is_a_failure_not_silence(tmp_path: Path) -> None:
    (failure,) = read(str(tmp_path / "missing.json"))
    assert isinstance(failure, ScopeFailure)
    assert failure.kind is FailureKind.UNREACHABLE
    assert "missing.json" in failure.message


def test_two_matches_with_the_same_scope_name_fail_that_scope(tmp_path: Path) -> None:
    write_list(tmp_path / "x" / "hub.json", [])
    write_list(tmp_path / "x" / "hub" / "a.json", [])
    (failure,) = read(str(tmp_path / "x" / "*"))
    assert isinstance(failure, ScopeFailure) and failure.scope == "hub"


def test_a_config_without_snapshot_is_refused() -> None:
    with pytest.raises(ConfigError, match="snapshot"):
        KubernetesSnapshotSource(KubernetesSourceConfig(id="k", type="kubernetes", contexts=["a"]))


# --- exports that disappear (truth rule 4: removal needs proof) ------------------------


def test_a_deleted_export_of_a_glob_is_read_as_an_empty_snapshot(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    write_list(exports / "prod-eu.json", [deployment("a", kubernetes_id="a")])
    deleted = write_list(exports / "prod-us.json", [deployment("b", kubernetes_id="b")])
    first = read(str(exports / "*.json"))
    assert sorted(r.scope for r in first if isinstance(r, Snapshot)) == ["prod-eu", "prod-us"]

    deleted.unlink()
    reads = {r.scope: r for r in read(str(exports / "*.json"), previous=first)}

    assert sorted(reads) == ["prod-eu", "prod-us"]
    kept = reads["prod-eu"]
    assert isinstance(kept, Snapshot) and [o.ref.name for o in kept.observations] == ["a"]
    gone = reads["prod-us"]
    assert isinstance(gone, Snapshot), gone
    assert gone.source == "snapshots" and gone.nature is Nature.ACTUAL
    assert gone.read_at == NOW and gone.observations == () and gone.version == "vanished"


def test_a_targeted_read_leaves_deleted_exports_it_does_not_name_alone(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    write_list(exports / "prod-eu.json", [deployment("a", kubernetes_id="a")])
    write_list(exports / "prod-us.json", [deployment("b", kubernetes_id="b")])
    first = read(str(exports / "*.json"))
    (exports / "prod-us.json").unlink()

    assert [r.scope for r in read(str(exports / "*.json"), first, frozenset({"prod-eu"}))] == [
        "prod-eu"
    ]
    (gone,) = read(str(exports / "*.json"), first, frozenset({"prod-us"}))
    assert isinstance(gone, Snapshot) and gone.scope == "prod-us" and gone.observations == ()


def test_a_glob_matching_nothing_any_more_empties_each_previous_scope(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    write_list(exports / "prod-eu.json", [deployment("a", kubernetes_id="a")])
    write_list(exports / "prod-us.json", [deployment("b", kubernetes_id="b")])
    first = read(str(exports / "*.json"))
    for path in exports.iterdir():
        path.unlink()

    reads = read(str(exports / "*.json"), previous=first)

    assert [r.scope for r in reads] == ["prod-eu", "prod-us"]
    assert all(isinstance(r, Snapshot) and r.observations == () for r in reads)


def test_a_missing_single_path_read_before_is_an_empty_read_of_its_scope(tmp_path: Path) -> None:
    path = write_list(tmp_path / "prod-us.json", [deployment("b", kubernetes_id="b")])
    first = read(str(path))
    path.unlink()

    (gone,) = read(str(path), previous=first)

    assert isinstance(gone, Snapshot), gone
    assert gone.scope == "prod-us" and gone.observations == () and gone.version == "vanished"


def test_an_emptied_folder_read_before_is_still_a_failure(tmp_path: Path) -> None:
    write_list(tmp_path / "hub" / "a.json", [deployment("a", kubernetes_id="a")])
    first = read(str(tmp_path / "hub"))
    (tmp_path / "hub" / "a.json").unlink()

    (failure,) = read(str(tmp_path / "hub"), previous=first)

    assert isinstance(failure, ScopeFailure)
    assert failure.scope == "hub" and failure.kind is FailureKind.INVALID


def test_a_deleted_export_is_held_by_the_pipeline_until_accepted(
    tmp_path: Path, store: Store
) -> None:
    exports = tmp_path / "exports"
    write_list(exports / "prod-eu.json", [deployment("shared", kubernetes_id="shared")], mtime=NOW)
    write_list(
        exports / "prod-us.json",
        [
            deployment("shared", kubernetes_id="shared"),
            deployment("us-only", kubernetes_id="us-only"),
        ],
        mtime=NOW,
    )
    config = Config(
        data_dir=str(tmp_path / "data"),
        sources=[
            KubernetesSourceConfig(
                id="clusters", type="kubernetes", snapshot=str(exports / "*.json"), max_age=None
            )
        ],
    )
    shared = EntityRef.of("component", None, "shared")
    us_only = EntityRef.of("component", None, "us-only")

    def places(ref: EntityRef) -> set[str]:
        stored = store.entity(ref)
        assert stored is not None
        return {p.place for p in stored.assembled.places}

    first = sync(config, store, now=lambda: NOW)
    assert first.exit_code == 0
    assert places(shared) == {"prod-eu/payments", "prod-us/payments"}
    assert places(us_only) == {"prod-us/payments"}

    (exports / "prod-us.json").unlink()
    held = sync(config, store, now=lambda: NOW + timedelta(minutes=1))

    assert not held.failures
    assert held.held == {("clusters", "prod-us"): 2}
    kept = store.entity(us_only)
    assert kept is not None and not kept.removed
    assert places(shared) == {"prod-eu/payments", "prod-us/payments"}
    assert places(us_only) == {"prod-us/payments"}
    removal_held = {f.subject for f in store.findings() if f.code == "removal-held"}
    assert removal_held == {"scope:clusters/prod-us", str(shared), str(us_only)}

    released = sync(
        config, store, now=lambda: NOW + timedelta(minutes=2), accept_removals=["clusters/prod-us"]
    )

    assert not released.held and not released.failures
    gone = store.entity(us_only)
    assert gone is not None and gone.removed
    assert [r.change for r in store.revisions(us_only)][-1] == "removed"
    assert us_only not in {e.ref for e in store.entities()}
    assert places(shared) == {"prod-eu/payments"}
    assert "removal-held" not in {f.code for f in store.findings()}


def test_an_export_found_with_its_remembered_lstat_is_not_hashed_again(tmp_path: Path) -> None:
    path = write_list(tmp_path / "hub.json", [deployment("api")], mtime=NOW)
    memo: dict[str, Any] = {}
    time.sleep(RACY_NS / 1e9 + 0.2)  # written within the racy window: not remembered
    started = time.time_ns()
    first, opened = opened_during(lambda: export_fingerprint(path, memo, started), suffix=".json")
    assert opened == ["hub.json"]
    assert list(memo) == [str(path)]
    second, opened = opened_during(lambda: export_fingerprint(path, memo, started), suffix=".json")
    assert (second, opened) == (first, [])  # one lstat, no read

    write_list(path, [deployment("api", replicas=5)], mtime=NOW)
    third, opened = opened_during(
        lambda: export_fingerprint(path, memo, time.time_ns()), suffix=".json"
    )
    assert opened == ["hub.json"]
    assert third != first
    assert list(memo) == [str(path)]  # the new lstat is too recent to stand for its bytes
    assert memo[str(path)]["stat"] != stat_key(path.lstat())
