"""``/api/v1`` over real HTTP: the CLI's JSON shapes, filters, pagination, roles, refresh."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.sources.git.conftest import component
from tests.web.harness import ADMIN_AUTH, AUTH, World
from trueup.cli import main
from trueup.model.ref import EntityRef
from trueup.store import Store
from trueup.web.auth import TokenAuth
from trueup.web.serve import Server


def _cli_json(capsys: pytest.CaptureFixture[str], world: World, *args: str) -> dict[str, object]:
    capsys.readouterr()
    main([*args, "-c", str(world.config_path), "--format", "json"])
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def _without_ages(view: dict[str, object]) -> dict[str, object]:
    fields = view["fields"]
    assert isinstance(fields, list)
    return {**view, "fields": [{**f, "age": None} for f in fields]}


def test_an_entity_is_the_explain_view(
    world: World, base: str, capsys: pytest.CaptureFixture[str]
) -> None:
    served = httpx.get(f"{base}/api/v1/entities/component/default/payments", headers=AUTH)
    assert served.status_code == 200
    cli = _cli_json(capsys, world, "explain", "component:payments")
    assert _without_ages(served.json()) == _without_ages(cli)
    assert served.json()["ref"] == "component:default/payments"
    owner = next(f for f in served.json()["fields"] if f["field"] == "spec.owner")
    assert owner["source"] == "catalog" and owner["value"] == "team-a"
    missing = httpx.get(f"{base}/api/v1/entities/component/default/nobody", headers=AUTH)
    assert missing.status_code == 404


def test_history_revisions_and_diffs(
    world: World, store: Store, base: str, capsys: pytest.CaptureFixture[str]
) -> None:
    world.catalog.write(
        "catalog-info.yaml",
        component("payments", "Takes payments", owner="team-b"),
        component("orders", "Orders"),
    )
    world.catalog.commit("new owner")
    world.sync(store)
    url = f"{base}/api/v1/entities/component/default/payments"
    history = httpx.get(f"{url}/revisions", headers=AUTH).json()
    assert history == _cli_json(capsys, world, "history", "component:payments")
    assert [r["change"] for r in history["revisions"]] == ["created", "changed"]
    second = httpx.get(f"{url}/revisions/2", headers=AUTH).json()
    assert second["entity"]["spec"]["owner"] == "team-b"
    diff = httpx.get(f"{url}/diff", params={"from": 1, "to": 2}, headers=AUTH).json()
    assert diff["diff"]["changed"]["spec.owner"] == {"from": "team-a", "to": "team-b"}
    assert httpx.get(f"{url}/revisions/9", headers=AUTH).status_code == 404


def test_entities_are_listed_with_filters_and_cursor_pages(base: str) -> None:
    url = f"{base}/api/v1/entities"
    first = httpx.get(url, params={"limit": 2}, headers=AUTH).json()
    assert [e["ref"] for e in first["items"]] == [
        "component:default/billing",
        "component:default/orders",
    ]
    assert first["next_cursor"] == "component:default/orders"
    rest = httpx.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=AUTH)
    assert [e["ref"] for e in rest.json()["items"]] == ["component:default/payments"]
    assert rest.json()["next_cursor"] is None
    owned = httpx.get(url, params={"owner": "group:default/team-a"}, headers=AUTH).json()
    assert len(owned["items"]) == 3
    assert httpx.get(url, params={"kind": "api"}, headers=AUTH).json()["items"] == []
    with_missing = httpx.get(url, params={"finding": "missing-field"}, headers=AUTH).json()
    assert {e["name"] for e in with_missing["items"]} == {"billing", "orders", "payments"}
    assert httpx.get(url, params={"discovered": "true"}, headers=AUTH).json()["items"] == []
    assert httpx.get(url, params={"cursor": "not a ref"}, headers=AUTH).status_code == 422


def test_findings_scorecard_sources_and_runs(base: str) -> None:
    findings = httpx.get(
        f"{base}/api/v1/findings", params={"code": "dangling-ref", "limit": 1}, headers=AUTH
    ).json()
    assert findings["items"][0]["code"] == "dangling-ref"
    assert findings["next_cursor"] is not None
    card = httpx.get(f"{base}/api/v1/scorecard", headers=AUTH).json()
    assert card["scorecard"][0]["owner"] == "group:default/team-a"
    assert card["scorecard"][0]["entities"] == 3
    sources = httpx.get(f"{base}/api/v1/sources", headers=AUTH).json()
    assert [s["id"] for s in sources] == ["catalog", "other"]
    assert sources[0]["scopes"][0]["item_count"] == 2
    assert sources[0]["watched"] is False
    runs = httpx.get(f"{base}/api/v1/runs", headers=AUTH).json()
    assert runs[-1]["trigger"] == "test"


def test_writes_need_the_admin_role(base: str) -> None:
    body = {"source": "catalog"}
    assert httpx.post(f"{base}/api/v1/refresh", json=body).status_code == 401
    assert httpx.post(f"{base}/api/v1/refresh", json=body, headers=AUTH).status_code == 403
    unknown = httpx.post(f"{base}/api/v1/refresh", json={"source": "nope"}, headers=ADMIN_AUTH)
    assert unknown.status_code == 404


def test_a_refresh_is_queued_and_run(
    world: World, store: Store, server: tuple[str, Server]
) -> None:
    base, _ = server
    world.add_shipping()
    answer = httpx.post(f"{base}/api/v1/refresh", json={"source": "catalog"}, headers=ADMIN_AUTH)
    assert answer.status_code == 202
    assert answer.json()["status"] in ("queued", "coalesced")
    deadline = time.monotonic() + 30
    while not [r for r in store.runs() if r.trigger.startswith("api refresh") and r.finished_at]:
        assert time.monotonic() < deadline, "the refresh never ran"
        time.sleep(0.1)
    run = next(r for r in store.runs() if r.trigger.startswith("api refresh"))
    assert run.sources == ("catalog",)
    assert store.entity(world_ref("shipping")) is not None


def test_held_removals_are_released_by_an_admin(
    world: World, store: Store, server: tuple[str, Server]
) -> None:
    base, _ = server
    world.catalog.write("catalog-info.yaml", component("payments", "Takes payments"))
    world.catalog.commit("orders gone, and more than half would be")
    world.other.remove("catalog-info.yaml")
    world.other.commit("billing gone")
    world.sync(store)  # the removal of billing (all of its scope) is held
    assert store.entity(world_ref("billing")) is not None
    assert not store.entity(world_ref("billing")).removed  # type: ignore[union-attr]
    answer = httpx.post(
        f"{base}/api/v1/removals/accept", json={"name": "other"}, headers=ADMIN_AUTH
    )
    assert answer.status_code == 202
    deadline = time.monotonic() + 30
    while not store.entity(world_ref("billing")).removed:  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the held removal was never released"
        time.sleep(0.1)


def world_ref(name: str) -> EntityRef:
    return EntityRef("component", "default", name)


def test_tokens_are_compared_against_every_configured_token() -> None:
    from pydantic import SecretStr

    from trueup.server_config import TokenConfig

    auth = TokenAuth(
        [
            TokenConfig(name="a", role="read", token=SecretStr("alpha-token")),
            TokenConfig(name="b", role="admin", token=SecretStr("bravo-token")),
        ]
    )
    assert auth.identify("bravo-token") is not None
    assert auth.identify("bravo-token").role == "admin"  # type: ignore[union-attr]
    assert auth.identify("alpha-token").name == "a"  # type: ignore[union-attr]
    assert auth.identify("alpha-tokeN") is None
    assert auth.identify("") is None
    assert auth.identify(None) is None


def test_metrics_report_scopes_syncs_and_request_latency_by_route(
    world: World, store: Store, base: str
) -> None:
    httpx.get(f"{base}/api/v1/entities/component/default/payments", headers=AUTH)
    text = httpx.get(f"{base}/metrics").text
    scope = next(h.scope for h in store.scopes() if h.source == "catalog")
    assert f'trueup_scope_items{{scope="{scope}",source="catalog"}} 2.0' in text
    assert f'trueup_scope_failing{{scope="{scope}",source="catalog"}} 0.0' in text
    assert "trueup_scope_age_seconds{" in text
    route = 'route="/api/v1/entities/{kind}/{namespace}/{name}"'
    assert (
        f'trueup_http_request_duration_seconds_count{{method="GET",{route},status="200"}}' in text
    )
