"""The dashboard in a real headless Chromium against a real ``trueup serve`` on the demo world.

The world is the demo with five days of history (:mod:`trueup.world.demo_history`)
plus one hostile commit: a description holding a ``<script>``. ``trueup serve``
runs as its own process on 127.0.0.1; Debian's ``chromium`` (installed by
``make test``) is driven by Playwright with a fresh profile per test — never a
browser Playwright downloads. A person's path: the token form → catalog →
entity → history → diff → scorecard → sources, asserting what the page shows
(values, provenance, badges, the stale/Unknown labelling, the script shown as
text) and saving a screenshot of each view under ``test-artifacts/dashboard/``.
Pages are read with JavaScript off, as the dashboard needs none.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import (
    BrowserContext,
    Dialog,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.web.harness import ServeProcess, free_port
from trueup.config import load_config
from trueup.pipeline import sync
from trueup.store import Store
from trueup.world.demo_history import DemoHistory, set_description, write_demo_history

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READ = "dashboard-read-token-0001"
ADMIN = "dashboard-admin-token-0002"
HOSTILE = '<script>window.pwned = 1; alert("pwned")</script> Pages of the checkout'
ARTIFACTS = Path(
    os.environ.get("TRUEUP_TEST_ARTIFACTS", Path(__file__).parents[3] / "test-artifacts")
)


@dataclass(frozen=True)
class Dashboard:
    url: str
    history: DemoHistory
    # The commit that last changed the showcase's file (12 characters): where its
    # fields were first read, the commit their locators name at every later head.
    head: str


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    root = tmp_path_factory.mktemp("dashboard")
    port = free_port()
    saved = {k: os.environ.get(k) for k in ("TRUEUP_READ_TOKEN", "TRUEUP_ADMIN_TOKEN")}
    os.environ.update(TRUEUP_READ_TOKEN=READ, TRUEUP_ADMIN_TOKEN=ADMIN)
    try:
        history = write_demo_history(root, listen=f"127.0.0.1:{port}")
        set_description(history.world, "checkout-web", HOSTILE)
        history.world.commit("checkout-web: a description pasted from somewhere")
        config = load_config(history.world.config)
        with Store.open(config.database) as store:
            sync(config, store, trigger="cli")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    head = subprocess.run(
        ["git", "log", "-1", "--format=%H", "--", "payments/payments-api/catalog-info.yaml"],
        cwd=history.world.catalog,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()[:12]
    env = {"TRUEUP_READ_TOKEN": READ, "TRUEUP_ADMIN_TOKEN": ADMIN}
    with ServeProcess(history.world.config, port, env=env) as server:
        server.wait_ready()
        yield Dashboard(server.url, history, head)
        assert server.stop(), "trueup serve did not shut down gracefully"


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run `make test` to install it"
    with sync_playwright() as driver:
        yield driver


def _context(playwright: Playwright, tmp_path: Path, *, javascript: bool) -> BrowserContext:
    return playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"),  # a fresh user-data dir for every test
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
        java_script_enabled=javascript,
        viewport={"width": 1280, "height": 900},
    )


@pytest.fixture
def browser(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    """A browser with JavaScript off: the dashboard is read without it."""
    context = _context(playwright, tmp_path, javascript=False)
    yield context
    context.close()


@pytest.fixture
def scripted(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    """A browser with JavaScript on, to look at what scripts could see."""
    context = _context(playwright, tmp_path, javascript=True)
    yield context
    context.close()


def _shot(page: Page, name: str) -> None:
    folder = ARTIFACTS / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _sign_in(page: Page, dashboard: Dashboard, path: str = "/ui/catalog") -> None:
    page.goto(dashboard.url + path)
    expect(page).to_have_url(re.compile(r"/ui/login\?next="))
    page.get_by_label("Token").fill(READ)
    page.get_by_role("button", name="Sign in").click()


def _row(page: Page, text: str) -> str:
    return page.locator("tr", has_text=text).first.inner_text()


# --- the path a person takes -------------------------------------------------------------


def test_sign_in_keeps_the_token_in_an_http_only_cookie_and_out_of_every_url(
    scripted: BrowserContext, dashboard: Dashboard
) -> None:
    page = scripted.new_page()
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.goto(f"{dashboard.url}/ui/scorecards")
    _shot(page, "0-sign-in")
    page.get_by_label("Token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That token is not valid.")
    page.get_by_label("Token").fill(READ)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{dashboard.url}/ui/scorecards")
    expect(page.get_by_role("heading", level=1)).to_have_text("Data-quality scorecards")
    (cookie,) = scripted.cookies()
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (
        "trueup_token",
        True,
        "Strict",
        "/ui",
    )
    assert page.evaluate("document.cookie") == ""  # no script can read it
    assert not [u for u in urls if READ in u or "token=" in u]
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{dashboard.url}/ui/login")
    assert scripted.cookies() == []


def test_the_catalog_shows_scores_badges_and_filters(
    browser: BrowserContext, dashboard: Dashboard
) -> None:
    world = dashboard.history.world
    page = browser.new_page()
    _sign_in(page, dashboard)
    expect(page.get_by_role("heading", level=1)).to_have_text("Catalog")
    _shot(page, "1-catalog")
    assert "discovered" in _row(page, f"component:default/{world.undeclared}")
    assert "drift" in _row(page, f"component:default/{world.out_of_sync}")
    assert "stale" in _row(page, f"component:default/{dashboard.history.showcase}")
    payments_db = _row(page, f"resource:default/{dashboard.history.disputed}")
    assert "group:default/team-payments" in payments_db  # git's owner won

    page.get_by_label("Stale").select_option("yes")
    page.get_by_label("Kind").select_option("component")
    page.get_by_role("button", name="Apply").click()
    shown = set(page.locator("tbody th .ref").all_inner_texts())
    in_prod_us = {
        f"component:default/{name}"
        for name, clusters in world.deployed.items()
        if "prod-us" in clusters
    }
    assert shown == in_prod_us  # the cluster whose export broke two days ago
    assert "stale=yes" in page.url and "kind=component" in page.url

    page.goto(f"{dashboard.url}/ui/catalog?finding=conflict")
    assert page.locator("tbody th .ref").all_inner_texts() == [
        f"resource:default/{dashboard.history.disputed}"
    ]
    page.get_by_label("Name contains").fill("PAYMENTS-A")
    page.get_by_label("Finding").select_option("")
    page.get_by_role("button", name="Apply").click()
    assert page.locator("tbody th .ref").all_inner_texts() == ["component:default/payments-api"]


def test_the_entity_page_shows_every_field_with_its_provenance_and_freshness(
    browser: BrowserContext, dashboard: Dashboard
) -> None:
    page = browser.new_page()
    _sign_in(page, dashboard)
    page.get_by_role("link", name=dashboard.history.showcase, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(dashboard.history.showcase)
    _shot(page, "2-entity")

    description = page.locator(
        "table.fields tr", has=page.locator("th", has_text="metadata.description")
    )
    text = description.inner_text()
    assert "Public payment API: authorises, captures and refunds card payments." in text
    assert "catalog" in text and f"at {dashboard.head}" in text
    link = description.get_by_role("link")
    assert link.get_attribute("href") == (
        f"https://github.com/acme/catalog/blob/{dashboard.head}/"
        "payments/payments-api/catalog-info.yaml"
    )
    app = page.locator("table.fields tr", has=page.locator("th", has_text="argocd/app-name"))
    app_text = app.inner_text()
    assert "Application payments-api in namespace argocd of cluster prod-eu" in app_text

    summary = page.locator("table.summary")
    assert "argocd-health Unknown stale" in " ".join(summary.inner_text().split())
    stale = page.locator("article.place.is-stale", has_text="prod-us/in-cluster/payments")
    stale_text = " ".join(stale.inner_text().split())
    assert "shown as Unknown" in stale_text
    assert "argocd-health Unknown last known: Healthy, seen 3d ago" in stale_text
    fresh = page.locator("article.place", has_text="prod-eu/in-cluster/payments").first
    assert "argocd-health Healthy current" in " ".join(fresh.inner_text().split())

    findings = page.locator("#findings")
    assert "stale" in findings.inner_text() and "How to fix:" in findings.inner_text()

    page.goto(f"{dashboard.url}/ui/entities/resource/default/{dashboard.history.disputed}#fields")
    owner = page.locator("tr.disputed", has=page.locator("th", has_text="spec.owner"))
    owner_text = " ".join(owner.inner_text().split())
    assert "team-payments" in owner_text
    assert "team-platform from infra" in owner_text  # the candidate that lost
    assert "aws_db_instance.payments in state" in owner_text
    hint = page.locator(".finding", has_text="conflict").inner_text()
    assert "set merge.precedence for the field" in hint


def test_the_history_says_what_changed_and_why_and_diffs_any_two_revisions(
    browser: BrowserContext, dashboard: Dashboard
) -> None:
    page = browser.new_page()
    _sign_in(page, dashboard, path=f"/ui/entities/component/default/{dashboard.history.showcase}")
    page.get_by_role("link", name="The whole timeline").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("History of")
    _shot(page, "3-history")
    revisions = page.locator("ol.timeline > li")
    numbers = [int(t.split(":")[0].split()[-1]) for t in revisions.locator("h3").all_inner_texts()]
    assert numbers == sorted(numbers, reverse=True) and numbers[-1] == 1
    webhook = page.locator("ol.timeline > li", has_text="triggered by webhook")
    webhook_text = " ".join(webhook.inner_text().split())
    assert "delivery github:6f1c2d9e-3b0a-4c8e-9f51-2a7d0c4b8e10" in webhook_text
    assert "(metadata.description)" in webhook_text  # the file and field the commit changed
    assert "Public payment API: authorises and captures card payments." in webhook_text

    first = page.locator("ol.timeline > li").last
    assert "Revision 1: created" in first.inner_text()
    assert "first seen in catalog@" in first.inner_text()

    page.get_by_label("From").select_option("1")
    page.get_by_label("To").select_option(str(numbers[0]))
    page.get_by_role("button", name="Show the diff").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Revision 1 → {numbers[0]}")
    _shot(page, "4-diff")
    changed = page.locator("table.diff tr", has=page.locator("th", has_text="metadata.description"))
    assert [c.strip() for c in changed.locator("td").all_inner_texts()] == [
        "Public payment API: authorises and captures card payments.",
        "Public payment API: authorises, captures and refunds card payments.",
    ]
    score = page.locator("table.diff tr", has_text="trueup.io/argocd-health").inner_text()
    assert "Healthy" in score and "Unknown" in score


def test_a_script_in_a_source_value_is_shown_as_text(
    scripted: BrowserContext, dashboard: Dashboard
) -> None:
    page = scripted.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    _sign_in(page, dashboard, path="/ui/entities/component/default/checkout-web")
    expect(page.locator("p.lead")).to_have_text(HOSTILE)
    page.goto(f"{dashboard.url}/ui/catalog?q=checkout")
    expect(page.locator("tbody .description")).to_have_text(HOSTILE)
    assert page.locator("script").count() == 0
    assert page.evaluate("window.pwned") is None
    assert dialogs == []


def test_the_scorecards_chart_each_owners_trend_from_the_history(
    browser: BrowserContext, dashboard: Dashboard
) -> None:
    page = browser.new_page()
    _sign_in(page, dashboard, path="/ui/scorecards")
    _shot(page, "5-scorecards")
    overall = page.locator("svg.chart").first
    first_day = (dashboard.history.now - timedelta(days=5)).date()
    days = (datetime.now(UTC).date() - first_day).days + 1  # 6, unless midnight just passed
    assert overall.locator("circle").count() == days  # one point a day
    owners = page.locator("table.owners tbody th").all_inner_texts()
    assert "group:default/team-payments" in owners and "group:default/team-storefront" in owners
    payments = _row(page, "group:default/team-payments")
    assert "conflict" in payments and "stale" in payments

    page.get_by_role("link", name="group:default/team-payments").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("group:default/team-payments")
    _shot(page, "6-owner")
    chart = page.locator("figure svg.chart")
    points = chart.locator("circle title").all_text_contents()
    assert len(points) == days
    scores = [int(re.search(r"score (\d+)", p).group(1)) for p in points]  # type: ignore[union-attr]
    caption = page.locator("figure figcaption").inner_text()
    assert caption.startswith(f"Score fell from {scores[0]} on ")
    assert f"to {scores[-1]} on" in caption and scores[-1] < scores[0]
    stale = page.locator("section", has_text="Stale entities").locator("a").all_inner_texts()
    assert "component:default/payments-api" in stale
    drifting = page.locator("section", has_text="Drifting entities").locator("a").all_inner_texts()
    assert drifting == ["component:default/payments-api"]


def test_sources_show_health_and_an_admin_releases_held_removals(
    browser: BrowserContext, dashboard: Dashboard
) -> None:
    world = dashboard.history.world
    held = sum(1 for clusters in world.deployed.values() if "prod-us" in clusters)
    page = browser.new_page()
    _sign_in(page, dashboard, path="/ui/sources")
    _shot(page, "7-sources")
    prod_us = page.locator("table.scopes tr", has_text="prod-us")
    text = " ".join(prod_us.inner_text().split())
    assert "removals held" in text and f"{held} held" in text
    prod_eu = " ".join(page.locator("table.scopes tr", has_text="prod-eu").inner_text().split())
    assert prod_eu.startswith("prod-eu") and " ok " in f" {prod_eu} "

    button = page.get_by_role("button", name=f"Release {held} held removals of clusters/prod-us")
    page.get_by_label("Admin token").fill(READ)  # a read token cannot release
    button.click()
    expect(page.get_by_role("alert")).to_have_text("Releasing held removals needs an admin token.")
    page.goto(f"{dashboard.url}/ui/sources")
    page.get_by_label("Admin token").fill(ADMIN)
    page.get_by_role("button", name=f"Release {held} held removals of clusters/prod-us").click()
    expect(page.get_by_role("status")).to_have_text(
        "Release of held removals in clusters/prod-us: queued."
    )
    deadline = time.monotonic() + 60
    while "removals held" in page.locator("table.scopes tr", has_text="prod-us").inner_text():
        assert time.monotonic() < deadline, "the released removals were never applied"
        time.sleep(0.5)
        page.reload()
    runs = page.locator("table.runs").inner_text()
    assert "dashboard accept-removals by ops" in runs


# --- accessibility -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/ui/catalog",
        "/ui/entities/component/default/payments-api",
        "/ui/entities/component/default/payments-api/history",
        "/ui/scorecards",
        "/ui/sources",
    ],
)
def test_pages_are_usable_by_keyboard_with_labels_headers_and_contrast(
    scripted: BrowserContext, dashboard: Dashboard, path: str
) -> None:
    page = scripted.new_page()
    _sign_in(page, dashboard, path=path)
    expect(page).to_have_url(dashboard.url + path)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # focus is visible
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    assert page.locator("h1").count() == 1
    unlabelled = page.evaluate(_UNLABELLED)
    assert unlabelled == []
    assert page.locator("table thead th:not([scope])").count() == 0
    low = page.evaluate(_LOW_CONTRAST)
    assert low == []


_UNLABELLED = """
[...document.querySelectorAll('input:not([type=hidden]), select, button')]
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.textContent.trim())
  .map(el => el.outerHTML)
"""

# WCAG 2 contrast of every text element against the nearest opaque background: 4.5:1.
_LOW_CONTRAST = """
(() => {
  const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest('svg') || !el.getClientRects().length) continue;
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(`${el.tagName}.${el.className}: ${ratio.toFixed(2)}`);
  }
  return low;
})()
"""
