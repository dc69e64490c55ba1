"""Live clusters under long-lived watches: a change in a cluster shows up without polling.

The demo's clusters run as loopback Kubernetes API servers (the project's test
server speaking the real list/watch protocol). ``trueup serve`` (SQLite, one
process) holds each cluster under a watch; an Application turning Degraded in
prod-eu is synced from the watch, and only the holder syncs that scope.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import httpx

from tests.web.harness import ADMIN_AUTH, AUTH, live_demo, serving
from trueup.model.assembled import AssembledEntity
from trueup.model.ref import EntityRef
from trueup.store import Store
from trueup.world.live import export_items


def test_a_cluster_change_arrives_through_the_watch(tmp_path: Path) -> None:
    with live_demo(tmp_path) as (clusters, config, store):
        eu = clusters.clusters[0]
        app = next(o for o in export_items(eu.export) if o["kind"] == "Application")
        name = app["metadata"]["name"]
        with serving(config, store) as (base, _):
            sources = httpx.get(f"{base}/api/v1/sources", headers=AUTH).json()
            assert {s["id"]: s["watched"] for s in sources}["clusters"] is True
            refresh = httpx.post(
                f"{base}/api/v1/refresh", json={"source": "clusters"}, headers=ADMIN_AUTH
            )
            assert refresh.json()["status"] == "watched"
            changed = copy.deepcopy(app)
            changed["status"]["health"]["status"] = "Degraded"
            changed["metadata"].pop("resourceVersion", None)
            clusters.servers[0].apply(changed)
            deadline = time.monotonic() + 60
            while True:
                entity = _entity_of(store, name)
                shown = (
                    {
                        p.place: p.value
                        for p in entity.places
                        if p.key == "argocd-health" and p.place.startswith("prod-eu")
                    }
                    if entity
                    else {}
                )
                if "Degraded" in shown.values():
                    break
                assert time.monotonic() < deadline, f"the watch never delivered: {shown}"
                time.sleep(0.2)
        watch_runs = [r for r in store.runs(limit=100) if r.trigger.startswith("watch")]
        assert watch_runs and all(r.sources == ("clusters",) for r in watch_runs)


def _entity_of(store: Store, app: str) -> AssembledEntity | None:
    """The entity the Application ``app`` is linked to."""
    stored = store.entity(EntityRef("component", "default", app))
    if stored is not None:
        return stored.assembled
    for stored in store.entities():
        if any(app in p.provenance.locator for p in stored.assembled.places):
            return stored.assembled
    return None
