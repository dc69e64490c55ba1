"""Take the README's screenshots of the dashboard: ``make screenshots``.

Builds the demo world with five days of history
(:func:`trueup.world.demo_history.write_demo_history`) in a temporary folder,
runs ``trueup serve`` on it on a free loopback port, signs in through the token
form in Debian's headless ``chromium`` (driven by Playwright; no downloaded
browser) and saves each view as a PNG next to this script.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

from trueup.world.demo_history import write_demo_history

HERE = Path(__file__).parent
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWS = (
    ("catalog", "/ui/catalog"),
    ("entity", "/ui/entities/component/default/payments-api"),
    ("entity-fields", "/ui/entities/component/default/payments-api#fields"),
    ("diff", "/ui/entities/component/default/payments-api/diff?from=1&to=2"),
    ("scorecards", "/ui/scorecards"),
    ("scorecard-owner", "/ui/scorecards/owner?owner=group:default/team-payments"),
    ("sources", "/ui/sources"),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("trueup serve exited before it was ready")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("trueup serve did not become ready")


def shoot(page: Page, url: str) -> None:
    """One viewport-sized picture per view (an anchor scrolls to its section)."""
    for name, path in VIEWS:
        page.goto(url + path)
        page.screenshot(path=str(HERE / f"{name}.png"))
        print(f"  {name}.png  {path}")


def main() -> int:
    if not Path(CHROMIUM).exists():
        print("Debian's chromium is missing: make browser", file=sys.stderr)
        return 1
    read, admin = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    env = {**os.environ, "TRUEUP_READ_TOKEN": read, "TRUEUP_ADMIN_TOKEN": admin}
    os.environ.update(TRUEUP_READ_TOKEN=read, TRUEUP_ADMIN_TOKEN=admin)
    with tempfile.TemporaryDirectory(prefix="trueup-screenshots-") as folder:
        root = Path(folder)
        port = free_port()
        history = write_demo_history(root / "world", listen=f"127.0.0.1:{port}")
        url = f"http://127.0.0.1:{port}"
        log = (root / "serve.log").open("wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "trueup", "serve", "-c", str(history.world.config)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(url, server)
            with sync_playwright() as driver:
                context = driver.chromium.launch_persistent_context(
                    str(root / "chromium-profile"),
                    executable_path=CHROMIUM,
                    args=ARGS,
                    headless=True,
                    java_script_enabled=False,
                    viewport={"width": 1280, "height": 900},
                )
                page = context.new_page()
                page.goto(f"{url}/ui/catalog")
                page.get_by_label("Token").fill(read)
                page.get_by_role("button", name="Sign in").click()
                print(f"screenshots of the demo world's dashboard in {HERE}:")
                shoot(page, url)
                context.close()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
            log.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
