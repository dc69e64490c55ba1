"""The dashboard over real HTTP on SQLite and PostgreSQL: sign-in, the cookie, the pages,
escaping, and the admin form's protection (no browser: the browser tests are
``test_browser.py``)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from html import unescape

import httpx
import pytest

from tests.sources.git.conftest import component
from tests.web.harness import ADMIN, AUTH, READ, World
from trueup.store import Store
from trueup.web.ui.session import csrf_token

SignIn = Callable[..., httpx.Client]


@pytest.fixture
def sign_in(base: str) -> Iterator[SignIn]:
    """Clients signed in through the token form (closed after the test)."""
    clients: list[httpx.Client] = []

    def signed_in(token: str = READ) -> httpx.Client:
        client = httpx.Client(base_url=base, follow_redirects=False)
        clients.append(client)
        answer = client.post("/ui/login", data={"token": token, "next": "/ui/catalog"})
        assert answer.status_code == 303
        return client

    yield signed_in
    for client in clients:
        client.close()


def _text(html: str) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces squeezed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_pages_need_a_session_and_a_token_in_the_url_is_not_one(base: str) -> None:
    for path in ("/ui/catalog", "/ui/sources", "/ui/scorecards"):
        answer = httpx.get(f"{base}{path}?token={READ}", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/ui/login?next=%2Fui%2F{path[4:]}"
    # A bearer header is the API's way in, not the dashboard's.
    assert httpx.get(f"{base}/ui/catalog", headers=AUTH).status_code == 303


def test_the_token_form_sets_a_strict_http_only_cookie(base: str) -> None:
    wrong = httpx.post(f"{base}/ui/login", data={"token": "guess", "next": "/ui/sources"})
    assert wrong.status_code == 401
    assert "That token is not valid." in wrong.text
    assert "guess" not in wrong.text
    right = httpx.post(
        f"{base}/ui/login",
        data={"token": READ, "next": f"/ui/sources?token={READ}&x=1"},
        follow_redirects=False,
    )
    assert right.status_code == 303
    assert right.headers["location"] == "/ui/sources?x=1"  # the token never returns in a URL
    cookie = right.headers["set-cookie"]
    assert cookie.startswith(f"trueup_token={READ};")
    assert {"HttpOnly", "Path=/ui", "SameSite=strict"} <= {
        part.strip() for part in cookie.split(";")
    }
    assert "Secure" not in cookie  # plain http on loopback; https sets it
    behind_tls = httpx.post(  # a TLS-terminating proxy on loopback says the scheme was https
        f"{base}/ui/login",
        data={"token": READ},
        headers={"X-Forwarded-Proto": "https"},
        follow_redirects=False,
    )
    assert "Secure" in {part.strip() for part in behind_tls.headers["set-cookie"].split(";")}
    for target in ("https://evil.example/ui/x", "//evil.example/ui", "/api/v1/entities"):
        away = httpx.post(
            f"{base}/ui/login", data={"token": READ, "next": target}, follow_redirects=False
        )
        assert away.headers["location"] == "/ui/catalog"
    forged = httpx.post(
        f"{base}/ui/login",
        data={"token": READ},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert forged.status_code == 403 and "set-cookie" not in forged.headers


def test_every_view_renders_with_headers_that_forbid_scripts_and_framing(sign_in: SignIn) -> None:
    client = sign_in()
    for path in (
        "/ui/catalog",
        "/ui/catalog?kind=component&owner=team-a&stale=no&drift=no&q=pay",
        "/ui/entities/component/default/payments",
        "/ui/entities/component/default/payments/history",
        "/ui/entities/component/default/payments/diff?from=1&to=1",
        "/ui/scorecards",
        "/ui/scorecards/owner?owner=group:default/team-a",
        "/ui/sources",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none'
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        assert "<script" not in page.text
        assert page.text.count("<h1") == 1
    css = client.get("/ui/static/ui.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_the_catalog_filters_and_pages(sign_in: SignIn) -> None:
    client = sign_in()
    everything = _text(client.get("/ui/catalog").text)
    for ref in (
        "component:default/billing",
        "component:default/orders",
        "component:default/payments",
    ):
        assert ref in everything
    searched = _text(client.get("/ui/catalog?q=PAY").text)
    assert "component:default/payments" in searched and "component:default/orders" not in searched
    kinds = _text(client.get("/ui/catalog?kind=api").text)
    assert "No entity matches" in kinds
    confused = client.get("/ui/catalog?stale=perhaps&owner=a:")
    assert confused.status_code == 200
    assert "stale must be yes, no or empty" in _text(confused.text)


def test_a_value_from_a_source_is_text_never_markup(
    world: World, store: Store, sign_in: SignIn
) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    world.catalog.write(
        "catalog-info.yaml", component("payments", hostile), component("orders", "Orders")
    )
    world.catalog.commit("hostile description")
    world.sync(store)
    client = sign_in()
    for path in ("/ui/entities/component/default/payments", "/ui/catalog"):
        page = client.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
        assert hostile in _text(page)


def test_an_unknown_entity_is_a_page_that_says_so(sign_in: SignIn) -> None:
    client = sign_in()
    missing = client.get("/ui/entities/component/default/nobody")
    assert missing.status_code == 404
    assert "No source declares or reports it." in _text(missing.text)
    no_revision = client.get("/ui/entities/component/default/payments/diff?from=1&to=9")
    assert no_revision.status_code == 404
    assert "has no revision 9" in _text(no_revision.text)


def test_releasing_held_removals_needs_an_admin_and_this_sessions_form(
    sign_in: SignIn, store: Store
) -> None:
    reader = sign_in()
    csrf = csrf_token(READ)
    form = {"name": "catalog", "csrf": csrf}
    assert "Admin token" not in reader.get("/ui/sources").text  # nothing is held
    needs_admin = reader.post("/ui/sources/release", data=form)
    assert needs_admin.status_code == 403
    assert "needs an admin token" in needs_admin.text
    bad_token = reader.post("/ui/sources/release", data={**form, "admin_token": "nope"})
    assert bad_token.status_code == 403 and "admin token is not valid" in bad_token.text
    no_csrf = reader.post(
        "/ui/sources/release", data={**form, "csrf": "0" * 64, "admin_token": ADMIN}
    )
    assert no_csrf.status_code == 403
    cross_site = reader.post(
        "/ui/sources/release",
        data={**form, "admin_token": ADMIN},
        headers={"Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403
    for refused in (needs_admin, bad_token, no_csrf, cross_site):
        assert "nothing was changed" in refused.text or "admin token" in refused.text

    typed = reader.post("/ui/sources/release", data={**form, "admin_token": ADMIN})
    assert typed.status_code == 303
    assert typed.headers["location"] == "/ui/sources?released=catalog&status=queued"
    admin = sign_in(ADMIN)
    again = admin.post("/ui/sources/release", data={"name": "catalog", "csrf": csrf_token(ADMIN)})
    assert again.status_code == 303
    deadline = time.monotonic() + 30
    while not any(r.trigger.startswith("dashboard accept-removals by ops") for r in store.runs()):
        assert time.monotonic() < deadline, "the release was never run"
        time.sleep(0.1)
    notice = admin.get("/ui/sources?released=catalog&status=queued")
    assert "Release of held removals in catalog: queued." in _text(notice.text)


def test_signing_out_forgets_the_cookie(sign_in: SignIn) -> None:
    client = sign_in()
    refused = client.post("/ui/logout", data={"csrf": "forged"})
    assert refused.status_code == 403
    out = client.post("/ui/logout", data={"csrf": csrf_token(READ)})
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert 'trueup_token=""' in out.headers["set-cookie"]
    assert client.get("/ui/catalog").status_code == 303
