"""The Backstage feed over real HTTP: exactly ``trueup export``, tokens, filters, ETag/304."""

from __future__ import annotations

import json

import httpx
import pytest
import yaml

from tests.sources.git.conftest import component
from tests.web.harness import ADMIN, AUTH, READ, World, serving
from trueup.cli import main
from trueup.redaction import KNOWN_SECRETS
from trueup.store import Store


def _export(world: World, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["export", "-c", str(world.config_path), *args]) == 0
    return capsys.readouterr().out


def test_the_feed_is_byte_for_byte_trueup_export(
    world: World, base: str, capsys: pytest.CaptureFixture[str]
) -> None:
    served = httpx.get(f"{base}/backstage/entities.yaml", headers=AUTH)
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("application/yaml")
    assert served.text == _export(world, capsys)
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(served.text)]
    assert names == ["billing", "orders", "payments"]
    as_json = httpx.get(f"{base}/backstage/entities.json", headers=AUTH)
    assert as_json.text == _export(world, capsys, "--format", "json")
    assert [i["metadata"]["name"] for i in json.loads(as_json.text)["items"]] == names


def test_the_feed_takes_the_token_as_a_query_parameter_and_refuses_without(base: str) -> None:
    assert httpx.get(f"{base}/backstage/entities.yaml", params={"token": READ}).status_code == 200
    assert httpx.get(f"{base}/backstage/entities.yaml", params={"token": ADMIN}).status_code == 200
    refused = httpx.get(f"{base}/backstage/entities.yaml")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    wrong = httpx.get(f"{base}/backstage/entities.yaml", params={"token": READ + "x"})
    assert wrong.status_code == 401
    # The API takes bearer tokens only: a token in a URL ends up in logs.
    assert httpx.get(f"{base}/api/v1/entities", params={"token": READ}).status_code == 401


def test_a_kind_filter(world: World, store: Store, base: str) -> None:
    only = httpx.get(f"{base}/backstage/entities.yaml", params={"kind": "Group"}, headers=AUTH)
    assert only.status_code == 200 and only.text == ""
    components = httpx.get(
        f"{base}/backstage/entities.yaml", params={"kind": "component"}, headers=AUTH
    )
    assert len(list(yaml.safe_load_all(components.text))) == 3


def test_an_unchanged_feed_is_a_304_and_a_sync_changes_the_etag(
    world: World, store: Store, base: str
) -> None:
    first = httpx.get(f"{base}/backstage/entities.yaml", headers=AUTH)
    tag = first.headers["etag"]
    again = httpx.get(f"{base}/backstage/entities.yaml", headers={**AUTH, "If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == tag
    weak = httpx.get(
        f"{base}/backstage/entities.yaml", headers={**AUTH, "If-None-Match": f'"x", W/{tag}'}
    )
    assert weak.status_code == 304
    other_filter = httpx.get(
        f"{base}/backstage/entities.yaml",
        params={"kind": "component"},
        headers={**AUTH, "If-None-Match": tag},
    )
    assert other_filter.status_code == 200  # another variant, another tag
    group = "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team-a}\n"
    world.catalog.write(
        "catalog-info.yaml",
        component("payments", "Takes payments"),
        component("orders", "Orders"),
        group + "spec: {type: team, children: []}\n",
    )
    world.catalog.commit("a group")
    world.sync(store)
    changed = httpx.get(f"{base}/backstage/entities.yaml", headers={**AUTH, "If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag
    assert "name: team-a" in changed.text


def test_a_sync_that_changes_nothing_keeps_the_etag(world: World, store: Store, base: str) -> None:
    """Backstage polls with the ETag: a sync that changed no entity must answer 304, or
    every poll after every sync downloads (and Backstage re-processes) the whole feed."""
    first = httpx.get(f"{base}/backstage/entities.yaml", headers=AUTH)
    tag = first.headers["etag"]
    world.sync(store)  # nothing changed in any source
    again = httpx.get(f"{base}/backstage/entities.yaml", headers={**AUTH, "If-None-Match": tag})
    assert again.status_code == 304
    assert again.headers["etag"] == tag
    world.catalog.write("catalog-info.yaml", component("payments", "Takes payments, now"))
    world.catalog.commit("one left")
    world.sync(store)
    changed = httpx.get(f"{base}/backstage/entities.yaml", headers={**AUTH, "If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag


def test_the_etag_changes_when_the_secrets_known_change_though_not_their_number(
    base: str,
) -> None:
    """Rows are masked again as they are served: a rotated secret (a restart on a new
    token) changes the bytes a cached feed would show, with no entity written."""
    first = httpx.get(f"{base}/backstage/entities.yaml", headers=AUTH)
    tag = first.headers["etag"]
    known = len(KNOWN_SECRETS)
    KNOWN_SECRETS.clear()
    KNOWN_SECRETS.add_all(f"rotated-secret-{n:04d}" for n in range(known))
    assert len(KNOWN_SECRETS) == known
    again = httpx.get(f"{base}/backstage/entities.yaml", headers={**AUTH, "If-None-Match": tag})
    assert again.status_code == 200 and again.headers["etag"] != tag
    assert "rotated-secret" not in again.headers["etag"]


def test_a_public_feed_only_when_configured(tmp_path: object, world: World, store: Store) -> None:
    config = world.config
    public = config.model_copy(
        update={"server": config.server.model_copy(update={"public_feed": True})}
    )
    with serving(public, store) as (url, _):
        assert httpx.get(f"{url}/backstage/entities.yaml").status_code == 200
        assert httpx.get(f"{url}/api/v1/entities").status_code == 401
