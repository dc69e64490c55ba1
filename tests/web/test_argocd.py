"""An Argo CD notification refreshes only the cluster scope that holds its Application."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.test_pipeline import argo_app
from tests.web.harness import ARGOCD_TOKEN, World, serving
from trueup.store import Store
from trueup.world.cluster_export import write_list


def _export(path: Path, *apps: dict[str, Any]) -> None:
    write_list(path, apps, "100", indent=None)


def test_a_notification_refreshes_the_one_scope_that_holds_the_application(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    exports = tmp_path / "exports"
    _export(exports / "prod-eu.json", argo_app("payments"))
    _export(exports / "prod-us.json", argo_app("orders"))
    world = World(tmp_path, db_url)
    text = world.config_path.read_text().replace(
        "server:\n",
        f"  - {{id: clusters, type: kubernetes, snapshot: '{exports}/*.json', interval: 1h}}\n"
        "server:\n",
        1,
    )
    world.config_path.write_text(text)
    world.sync(store)
    _export(exports / "prod-eu.json", argo_app("payments", health="Degraded"))
    with serving(world.config, store) as (base, _):
        answer = httpx.post(
            f"{base}/webhooks/argocd",
            content=b'{"app": "payments"}',
            headers={"Authorization": f"Bearer {ARGOCD_TOKEN}", "Idempotency-Key": "n-1"},
        )
        assert answer.status_code == 202, answer.text
        assert [job["target"] for job in answer.json()["jobs"]] == ["clusters/prod-eu"]
        deadline = time.monotonic() + 30
        while not [
            r for r in store.runs() if r.trigger.startswith("webhook argocd") and r.finished_at
        ]:
            assert time.monotonic() < deadline, "the notification's refresh never ran"
            time.sleep(0.1)
    run = next(r for r in store.runs() if r.trigger.startswith("webhook argocd"))
    assert run.sources == ("clusters",)
    assert run.summary["scopes_read"] == 1  # prod-us was not read again
    payments = store.entity(next(e.ref for e in store.entities() if e.ref.name == "payments"))
    assert payments is not None
    health = {p.place: p.value for p in payments.assembled.places if p.key == "argocd-health"}
    assert "Degraded" in health.values()
