"""``trueup demo --live``: the demo's clusters on loopback API servers read as their exports are.

One demo world is synced twice with real SQLite stores — once from the
``kubectl get -o json`` exports (``trueup.yaml``), once live through the
kubeconfig of :func:`~trueup.world.live.start_demo_clusters`
(``trueup-live.yaml``) — and the two catalogs must be the same entities with
the same status annotations. The servers bind 127.0.0.1 only and are gone
(their ports refuse connections, their threads ended) once closed.
"""

from __future__ import annotations

import http.client
import re
import shutil
import socket
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from tests.conftest import migrated
from trueup import pipeline
from trueup.cli import main
from trueup.config import Config, load_config
from trueup.model.assembled import AssembledEntity, AssemblyResult
from trueup.model.ref import EntityRef
from trueup.sources.kubernetes.config import KubernetesSourceConfig
from trueup.store import Store
from trueup.world import DemoWorld, write_demo_world
from trueup.world.live import (
    LIVE_CONFIG,
    export_items,
    start_demo_clusters,
    write_live_config,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
STATUS = re.compile(r"^trueup\.io/(argocd-.+|replicas|crossplane-.+)$")


def sync(config: Config, database: Path) -> pipeline.SyncOutcome:
    """One real sync of ``config`` into a fresh SQLite file, at NOW; ``result`` read back."""
    with migrated(f"sqlite:///{database}") as store:
        outcome = pipeline.sync(config, store, now=lambda: NOW)
        outcome.result = AssemblyResult({e.ref: e.assembled for e in store.entities()})
        return outcome


def refuses(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def get(url: str, path: str, token: str | None) -> tuple[int, bytes]:
    """One plain-HTTP GET (the servers run without TLS unless asked)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        connection.request("GET", path, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def places(entity: AssembledEntity) -> list[tuple[str, str, str, str, bool]]:
    return [(p.key, p.place, p.value, p.last_known, p.stale) for p in entity.places]


def server_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("fake-")]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> DemoWorld:
    return write_demo_world(tmp_path_factory.mktemp("demo"), now=NOW)


@pytest.fixture(scope="module")
def both(
    world: DemoWorld, tmp_path_factory: pytest.TempPathFactory
) -> tuple[pipeline.SyncOutcome, pipeline.SyncOutcome]:
    """(the exports' sync, the live sync) of the same world."""
    databases = tmp_path_factory.mktemp("databases")
    from_exports = sync(load_config(world.config), databases / "exports.db")
    with start_demo_clusters(world) as clusters:
        live = sync(load_config(write_live_config(world, clusters)), databases / "live.db")
    return from_exports, live


# --- the live read is the exports' read ---------------------------------------------


def test_the_live_read_gives_the_same_entities(
    both: tuple[pipeline.SyncOutcome, pipeline.SyncOutcome],
) -> None:
    from_exports, live = both
    assert from_exports.failures == [] and live.failures == []
    assert from_exports.result is not None and live.result is not None
    exported, read_live = from_exports.result.entities, live.result.entities
    assert sorted(map(str, read_live)) == sorted(map(str, exported))
    for ref, entity in exported.items():
        assert read_live[ref].entity == entity.entity, ref
        # Status per place too; provenance differs (the server has its own resourceVersions).
        assert places(read_live[ref]) == places(entity), ref


def test_the_status_annotations_are_the_same_and_show_the_drift(
    world: DemoWorld, both: tuple[pipeline.SyncOutcome, pipeline.SyncOutcome]
) -> None:
    def status(outcome: pipeline.SyncOutcome) -> dict[str, dict[str, str]]:
        assert outcome.result is not None
        found: dict[str, dict[str, str]] = {}
        for ref, entity in outcome.result.entities.items():
            annotations = entity.entity["metadata"].get("annotations") or {}
            shown = {k: v for k, v in annotations.items() if STATUS.match(k)}
            if shown:
                found[str(ref)] = shown
        return found

    from_exports, live = both
    assert status(live) == status(from_exports)
    shown = status(live)
    out_of_sync = shown[str(EntityRef.of("component", None, world.out_of_sync))]
    degraded = shown[str(EntityRef.of("component", None, world.degraded))]
    assert out_of_sync["trueup.io/argocd-sync"] == "OutOfSync"
    assert degraded["trueup.io/argocd-health"] == "Degraded"
    assert degraded["trueup.io/replicas"] == "1/2"
    assert {k for a in shown.values() for k in a} >= {
        "trueup.io/argocd-sync",
        "trueup.io/argocd-health",
        "trueup.io/replicas",
    }


def test_each_cluster_is_one_scope_named_like_its_export(
    world: DemoWorld, both: tuple[pipeline.SyncOutcome, pipeline.SyncOutcome]
) -> None:
    from_exports, live = both

    def scopes(outcome: pipeline.SyncOutcome) -> dict[str, int]:
        return {s.scope: len(s.observations) for s in outcome.snapshots if s.source == "clusters"}

    assert sorted(scopes(live)) == sorted(p.stem for p in world.exports) == ["prod-eu", "prod-us"]
    assert scopes(live) == scopes(from_exports)


# --- the servers ----------------------------------------------------------------------


def test_each_server_holds_its_export_and_serves_its_kinds(world: DemoWorld) -> None:
    with start_demo_clusters(world) as clusters:
        assert clusters.contexts == ["prod-eu", "prod-us"]
        token = yaml.safe_load(clusters.kubeconfig.read_text())["users"][0]["user"]["token"]
        for cluster, server in zip(clusters.clusters, clusters.servers, strict=True):
            assert cluster.objects == len(export_items(cluster.export))
            stored = sum(len(t.keys) for t in server.state.tables.values())
            assert stored == cluster.objects  # exactly the export: no invented objects
            code, body = get(cluster.url, "/apis/argoproj.io/v1alpha1", token)
            assert code == 200 and b'"applications"' in body
            assert get(cluster.url, "/apis/argoproj.io/v1alpha1", None)[0] == 401
            assert get(cluster.url, "/apis/argoproj.io/v1alpha1", "wrong")[0] == 401
        # The XRDs of prod-eu make its claim kinds discoverable, as Crossplane would.
        eu = clusters.clusters[0]
        code, body = get(eu.url, "/apis/apiextensions.crossplane.io/v1", token)
        assert code == 200 and b'"compositeresourcedefinitions"' in body
        claims = [
            o
            for o in export_items(eu.export)
            if o["apiVersion"].split("/")[0] not in ("apps", "argoproj.io")
            and o["kind"] != "CompositeResourceDefinition"
        ]
        assert claims, "the demo's prod-eu export holds Crossplane claims"
        for claim in claims:
            code, body = get(eu.url, f"/apis/{claim['apiVersion']}", token)
            assert code == 200 and f'"kind": "{claim["kind"]}"'.encode() in body


def test_servers_bind_loopback_only_and_stop(world: DemoWorld) -> None:
    before = server_threads()
    clusters = start_demo_clusters(world)
    try:
        ports = []
        for cluster, server in zip(clusters.clusters, clusters.servers, strict=True):
            host, port = server.address
            assert host == "127.0.0.1"
            assert cluster.url == f"http://127.0.0.1:{port}"
            assert not refuses(port)
            ports.append(port)
    finally:
        clusters.close()
    assert all(refuses(port) for port in ports)
    assert server_threads() == before
    clusters.close()  # a second close is harmless


def test_the_live_config_is_the_demo_config_reading_the_kubeconfig(world: DemoWorld) -> None:
    with start_demo_clusters(world) as clusters:
        path = write_live_config(world, clusters)
    assert path == world.root / LIVE_CONFIG
    demo = yaml.safe_load(world.config.read_text())
    live = yaml.safe_load(path.read_text())
    index = next(i for i, s in enumerate(demo["sources"]) if s["id"] == "clusters")
    expected = {k: v for k, v in demo["sources"][index].items() if k != "snapshot"}
    expected |= {"kubeconfig": "kubeconfig", "contexts": ["prod-eu", "prod-us"]}
    assert live["sources"][index] == expected
    demo["sources"][index] = expected
    assert live == demo  # nothing else changed
    loaded = load_config(path)  # relative paths stay relative to the file's folder
    source = next(s for s in loaded.sources if s.id == "clusters")
    assert isinstance(source, KubernetesSourceConfig)
    assert source.kubeconfig == str(world.root / "kubeconfig") and source.snapshot is None


@pytest.mark.skipif(
    shutil.which("kubectl") is None or shutil.which("openssl") is None,
    reason="needs kubectl and openssl",
)
def test_kubectl_reaches_the_clusters_over_tls(world: DemoWorld, tmp_path: Path) -> None:
    with start_demo_clusters(world, tls=True) as clusters:
        assert all(c.url.startswith("https://127.0.0.1:") for c in clusters.clusters)
        done = subprocess.run(
            [
                "kubectl",
                "--kubeconfig",
                str(clusters.kubeconfig),
                "--cache-dir",
                str(tmp_path / "cache"),
                "--context",
                "prod-eu",
                "get",
                "deployments",
                "-A",
                "-o",
                "name",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert f"deployment.apps/{world.out_of_sync}" in done.stdout.split()


# --- the command ------------------------------------------------------------------------


def urls(text: str) -> list[int]:
    return [int(p) for p in re.findall(r"https?://127\.0\.0\.1:(\d+)", text)]


def test_trueup_demo_live_syncs_and_stops_the_clusters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without --once the demo goes on serving: tests/web/test_demo_serve.py covers that.
    root = tmp_path / "d"
    before = server_threads()
    code = main(["demo", "--once", "--live", "--dir", str(root)])
    out = capsys.readouterr().out
    assert code == 0
    assert "loopback Kubernetes API servers" in out
    if shutil.which("openssl"):  # kubectl sends its token over TLS only
        assert f"--kubeconfig {root / 'kubeconfig'} --context prod-eu get deployments -A" in out
    assert "live clusters stopped" in out
    ports = urls(out)
    assert len(ports) == 2 and all(refuses(p) for p in ports)
    assert server_threads() == before
    out_of_sync = [
        o["metadata"]["name"]
        for export in sorted((root / "exports").glob("*.json"))
        for o in export_items(export)
        if o["kind"] == "Application" and o["status"]["sync"]["status"] == "OutOfSync"
    ]
    assert out_of_sync
    config = load_config(root / LIVE_CONFIG)
    store = Store.open(config.database)
    try:
        found = [store.entity(EntityRef.of("component", None, name)) for name in out_of_sync]
    finally:
        store.close()
    for stored in found:
        assert stored is not None
        assert stored.assembled.entity["metadata"]["annotations"]["trueup.io/argocd-sync"] == (
            "OutOfSync"
        )
