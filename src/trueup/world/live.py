"""The demo's clusters as live Kubernetes API servers, for ``trueup demo --live`` and tests.

:func:`start_demo_clusters` starts one loopback API server
(:mod:`trueup.testing.kube_api`, 127.0.0.1 only, a free port, a bearer token,
TLS on request) per cluster export of a :class:`~trueup.world.demo.DemoWorld`,
loaded with exactly that export's objects (the kinds they need are served, as
the cluster's CRDs and Crossplane would; Argo CD and Crossplane count as
installed on every cluster), and writes ``<root>/kubeconfig`` with
one context per cluster, named like its export (``prod-eu``, ``prod-us``).
:func:`write_live_config` writes ``<root>/trueup-live.yaml``: the demo's
configuration with the cluster source reading those contexts instead of the
export files, so one world can be synced both ways and compared. The servers
run in this process's threads until :meth:`LiveClusters.close` (or the end of
the ``with`` block); nothing here is a production component.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from trueup.testing.kube_api import (
    FakeApiServer,
    FakeContext,
    argocd_application_kind,
    load_export,
    self_signed,
    write_fake_kubeconfig,
    xrd_kind,
)
from trueup.world.demo import DemoWorld

# Every demo cluster runs the same platform: Argo CD and Crossplane are installed on
# each, so discovery finds their APIs even where an export holds none of their objects.
PLATFORM = (argocd_application_kind(), xrd_kind("v1"))
KUBECONFIG = "kubeconfig"
LIVE_CONFIG = "trueup-live.yaml"
_HEADER = (
    "# Written by `trueup demo --live`: the demo's trueup.yaml, with the clusters read\n"
    "# live from loopback Kubernetes API servers (./kubeconfig) instead of exports.\n"
)


@dataclass(frozen=True)
class LiveCluster:
    """One running cluster: its context (and scope) name, URL, export and object count."""

    name: str
    url: str
    export: Path
    objects: int


class LiveClusters:
    """The demo's running API servers and the kubeconfig that reaches them.

    A context manager; :meth:`close` stops every server (its port then refuses
    connections) and may be called more than once.
    """

    def __init__(
        self, kubeconfig: Path, clusters: tuple[LiveCluster, ...], servers: list[FakeApiServer]
    ) -> None:
        self.kubeconfig = kubeconfig
        self.clusters = clusters
        self.servers = tuple(servers)
        self.closed = False

    @property
    def contexts(self) -> list[str]:
        return [c.name for c in self.clusters]

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for server in self.servers:
            server.close()

    def __enter__(self) -> LiveClusters:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def export_items(path: Path) -> list[dict[str, Any]]:
    """The objects of a ``kubectl get -o json`` file (a ``List``, or one object)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a Kubernetes object or List")
    items = data.get("items") if data.get("kind") == "List" else [data]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError(f"{path}: the List's items are not objects")
    return items


def start_demo_clusters(world: DemoWorld, *, tls: bool = False) -> LiveClusters:
    """Start one loopback API server per export of ``world`` and write its kubeconfig."""
    token = secrets.token_urlsafe(24)
    certificate: tuple[Path, Path] | None = None
    if tls:
        folder = world.root / "tls"
        folder.mkdir(parents=True, exist_ok=True)
        certificate = self_signed(folder)
    servers: list[FakeApiServer] = []
    clusters: list[LiveCluster] = []
    try:
        for export in world.exports:
            items = export_items(export)
            server = FakeApiServer(name=export.stem, token=token, tls=certificate)
            servers.append(server)
            for kind in PLATFORM:
                server.state.register(kind)
            count = load_export(server, items)
            clusters.append(LiveCluster(export.stem, server.url, export, count))
        ca_file = certificate[0] if certificate else None
        contexts = [FakeContext(c.name, c.url, token=token, ca_file=ca_file) for c in clusters]
        kubeconfig = write_fake_kubeconfig(world.root / KUBECONFIG, contexts)
    except BaseException:
        for server in servers:
            server.close()
        raise
    return LiveClusters(kubeconfig, tuple(clusters), servers)


def write_live_config(world: DemoWorld, clusters: LiveClusters) -> Path:
    """``<root>/trueup-live.yaml``: the demo's config, its cluster source read live.

    Every ``kubernetes`` source with ``snapshot:`` (the demo has one, ``clusters``)
    reads ``kubeconfig`` and the clusters' contexts instead; the rest is unchanged
    (its comments aside). Relative paths stay relative to the file's folder.
    """
    config = yaml.safe_load(world.config.read_text(encoding="utf-8"))
    replaced = 0
    for index, source in enumerate(config.get("sources") or []):
        if source.get("type") != "kubernetes" or "snapshot" not in source:
            continue
        live: dict[str, Any] = {}
        for key, value in source.items():
            if key == "snapshot":
                live["kubeconfig"] = clusters.kubeconfig.relative_to(world.root).as_posix()
                live["contexts"] = clusters.contexts
            else:
                live[key] = value
        config["sources"][index] = live
        replaced += 1
    if not replaced:
        raise ValueError(f"{world.config}: no kubernetes source reads a snapshot")
    path = world.root / LIVE_CONFIG
    path.write_text(_HEADER + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path
