"""The dashboard against what the store really holds: every entity the catalog lists opens,
and every count links to a list that holds what it counted (plain HTTP on real uvicorn,
SQLite and PostgreSQL; no browser needed)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from html import unescape

import httpx

from tests.web.harness import READ, World, serving
from trueup.store import Store
from trueup.world import cluster_export

# An Argo CD Application may be named with up to 253 characters; Backstage allows 63.
LONG_NAME = "checkout-" + "x" * 61


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _with_cluster(world: World, *objects: dict[str, object]) -> None:
    """Add a ``kubernetes`` source reading one exported cluster holding ``objects``."""
    export = world.root / "exports" / "prod.json"
    cluster_export.write_list(export, objects, "1", indent=None)
    source = (
        "sources:\n  - id: clusters\n    type: kubernetes\n"
        f"    snapshot: {export}\n    collect: [argocd]\n"
    )
    text = world.config_path.read_text(encoding="utf-8")
    world.config_path.write_text(text.replace("sources:\n", source, 1), encoding="utf-8")


def _application(name: str) -> dict[str, object]:
    workload = cluster_export.Workload(
        name=name,
        cluster="prod",
        namespace="shop",
        team="team-a",
        part_of="shop",
        repo_url="https://github.com/acme/shop",
        version="1.0.0",
    )
    app = cluster_export.application(workload, datetime.now(UTC))
    metadata = app["metadata"]
    assert isinstance(metadata, dict)
    metadata["labels"] = {}  # no backstage.io/kubernetes-id: the entity is named after the app
    return app


@contextmanager
def _signed_in(world: World, store: Store) -> Iterator[httpx.Client]:
    with (
        serving(world.config, store) as (base, _),
        httpx.Client(base_url=base, follow_redirects=False) as client,
    ):
        assert client.post("/ui/login", data={"token": READ}).status_code == 303
        yield client


def test_an_entity_the_catalog_lists_opens_even_when_its_name_breaks_backstages_rules(
    world: World, store: Store
) -> None:
    # A discovered entity whose name is too long for Backstage is kept (not served) so that
    # people can see why: the catalog lists it, and its link must show it, not a 422.
    _with_cluster(world, _application(LONG_NAME))
    world.sync(store)
    with _signed_in(world, store) as client:
        catalog = client.get("/ui/catalog", params={"q": "checkout"})
        links = re.findall(r'href="(/ui/entities/[^"]+)"', catalog.text)
        assert links == [f"/ui/entities/component/default/{LONG_NAME}"]
        page = client.get(links[0])
        assert page.status_code == 200, page.text[:300]
        assert "no: it breaks Backstage's rules" in _text(page.text)
        assert "name is 70 characters" in _text(page.text)
        for tail in ("/history", "/diff?from=1&to=1"):
            assert client.get(links[0] + tail).status_code == 200, tail


GROUP = (
    "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\n"
    "spec:\n  type: team\n  parent: nowhere\n  children: []\n"
)


def test_the_no_owner_scorecard_links_only_to_lists_that_hold_what_it_counts(
    world: World, store: Store
) -> None:
    # A Group has no owner: the scorecards count it under "(no owner)", with its finding.
    world.other.write("catalog-info.yaml", GROUP)
    world.other.commit("a group whose parent is nowhere")
    world.sync(store)
    with _signed_in(world, store) as client:
        card = client.get("/ui/scorecards/owner", params={"owner": "(no owner)"})
        assert card.status_code == 200
        assert "Entities 1" in _text(card.text)
        overview = client.get("/ui/scorecards")
        links = {
            unescape(href)
            for page in (card, overview)
            for href in re.findall(r'href="(/ui/catalog\?[^"]*)"', page.text)
        }
        assert links  # the owners' counts and codes link to the catalog
        for link in links:
            listed = _text(client.get(link).text)
            assert "No entity matches" not in listed, link
        # Asked for directly, the catalog says it cannot filter so, rather than list nothing.
        asked = _text(client.get("/ui/catalog", params={"owner": "(no owner)"}).text)
        assert "cannot filter by a missing owner" in asked
        assert "group:default/team-a" in asked


def test_the_api_serves_and_pages_past_an_entity_whose_name_breaks_backstages_rules(
    world: World, store: Store
) -> None:
    # The API lists the same entities: each one it lists answers, and a page ending on
    # one is followed by the next (its ref is the cursor), as `trueup explain` shows it.
    _with_cluster(world, _application(LONG_NAME), _application("zz-after"))
    world.sync(store)
    with serving(world.config, store) as (base, _), httpx.Client(base_url=base) as client:
        auth = {"Authorization": f"Bearer {READ}"}
        entity = client.get(f"/api/v1/entities/component/default/{LONG_NAME}", headers=auth)
        assert entity.status_code == 200, entity.text[:300]
        revisions = client.get(
            f"/api/v1/entities/component/default/{LONG_NAME}/revisions", headers=auth
        )
        assert revisions.status_code == 200, revisions.text[:300]
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": 1, "kind": "component"}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/api/v1/entities", params=params, headers=auth)
            assert page.status_code == 200, page.text[:300]
            seen += [item["ref"] for item in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert f"component:default/{LONG_NAME}" in seen
        assert "component:default/zz-after" in seen


def test_a_form_sent_through_a_proxy_to_the_public_url_is_the_dashboards_own(
    world: World, store: Store
) -> None:
    # A reverse proxy that passes its upstream's host (nginx's default Host $proxy_host)
    # makes the request's own origin http://127.0.0.1:PORT while the browser says it
    # came from public_url: that is the dashboard's own origin, not another site's.
    world.sync(store)
    with serving(world.config, store) as (base, _), httpx.Client(base_url=base) as client:
        through_proxy = client.post(
            "/ui/login",
            data={"token": READ},
            headers={"Origin": "http://trueup.test"},  # the harness's public_url
            follow_redirects=False,
        )
        assert through_proxy.status_code == 303, through_proxy.text[:300]
        for forged in ("https://trueup.test", "http://trueup.test.evil.example", "null"):
            answer = client.post(
                "/ui/login",
                data={"token": READ},
                headers={"Origin": forged},
                follow_redirects=False,
            )
            assert answer.status_code == 403, forged


def test_the_release_notice_names_only_a_known_scope_and_a_known_outcome(
    world: World, store: Store
) -> None:
    # The notice after a release is read from the URL it redirects to: a link made by
    # someone else must not make the dashboard say what they wrote.
    world.sync(store)
    with _signed_in(world, store) as client:
        shown = _text(client.get("/ui/sources?released=catalog&status=queued").text)
        assert "Release of held removals in catalog: queued." in shown
        for released, status in (
            ("catalog", "failed, sign in again at https://evil.example"),
            ("catalog/sign in again at https://evil.example", "queued"),
            ("nosuchsource", "queued"),
        ):
            page = client.get("/ui/sources", params={"released": released, "status": status})
            assert page.status_code == 200
            assert "evil.example" not in page.text and "Release of held" not in page.text


def test_a_dashboard_request_with_a_bad_value_gets_a_page_that_echoes_nothing(
    world: World, store: Store
) -> None:
    # FastAPI's own 422 is JSON that repeats the value sent (a token typed into the form):
    # the dashboard answers with its own page and headers, naming the field only.
    world.sync(store)
    with serving(world.config, store) as (base, _), httpx.Client(base_url=base) as client:
        long_token = "t0ken-" + "x" * 5000
        answer = client.post("/ui/login", data={"token": long_token}, follow_redirects=False)
        assert answer.status_code == 400, answer.text[:200]
        assert answer.headers["content-type"].startswith("text/html")
        assert "x" * 100 not in answer.text
        assert answer.headers["x-frame-options"] == "DENY"
        assert "token" in _text(answer.text)
        sign_in_first = client.get("/ui/catalog", follow_redirects=False)
        assert sign_in_first.status_code == 303
        assert sign_in_first.headers["x-frame-options"] == "DENY"
        api = client.get("/api/v1/entities?limit=0", headers={"Authorization": f"Bearer {READ}"})
        assert api.status_code == 422 and api.headers["content-type"] == "application/json"
