"""The end of ``trueup demo``: serve the demo world and show how Backstage reads it.

Generates a read and an admin token for this run (kept in memory, never
written), prints the feed URL and the ``app-config.yaml`` snippet to paste into
a Backstage app, then serves (:mod:`trueup.web.serve`) until Ctrl-C.
"""

from __future__ import annotations

import secrets

from pydantic import SecretStr
from rich.text import Text

from trueup.cli.app import console, open_store
from trueup.config import Config
from trueup.server_config import TokenConfig
from trueup.web.serve import Role, build_server, configure_logging, listen_address, run


def backstage_snippet(feed_url: str, host: str, kinds: list[str]) -> str:
    """The ``app-config.yaml`` lines that make a Backstage catalog read ``feed_url``."""
    allowed = ", ".join([*kinds, "Location"])
    return (
        "backend:\n"
        "  reading:\n"
        "    allow:\n"
        f"      - host: {host}\n"
        "catalog:\n"
        "  rules:\n"
        f"    - allow: [{allowed}]\n"
        "  locations:\n"
        "    - type: url\n"
        f"      target: {feed_url}\n"
    )


def serve_demo(config: Config, listen: str) -> None:
    """Serve ``config`` on ``listen`` with fresh tokens, after printing how to use it."""
    read = secrets.token_urlsafe(24)
    admin = secrets.token_urlsafe(24)
    server_section = config.server.model_copy(
        update={
            "listen": listen,
            "tokens": [
                TokenConfig(name="demo-read", role="read", token=SecretStr(read)),
                TokenConfig(name="demo-admin", role="admin", token=SecretStr(admin)),
            ],
        }
    )
    config = config.model_copy(update={"server": server_section})
    host, port = listen_address(listen)
    base = f"http://{host}:{port}"
    feed = f"{base}/backstage/entities.yaml?token={read}"
    # Trusted text built here (the consoles interpret no markup): styles are Text parts.
    console.print(Text.assemble("\n", ("serving", "bold"), " the demo world (Ctrl-C stops it)"))
    for label, value in (
        ("feed", feed),
        ("api", f"{base}/api/v1/entities   (Authorization: Bearer {read})"),
        ("openapi", f"{base}/api/v1/openapi.json"),
        ("admin token", f"{admin}   (POST {base}/api/v1/refresh)"),
    ):
        console.print(f"  {label:<11} {value}", soft_wrap=True)
    console.print(
        Text.assemble("\n", ("Backstage app-config.yaml", "bold"), " (paste into your app):")
    )
    snippet = backstage_snippet(feed, f"{host}:{port}", list(config.backstage.kinds))
    console.print(snippet, markup=False, soft_wrap=True, end="")
    console.file.flush()
    configure_logging("warning")
    with open_store(config, upgrade=True) as store:
        run(build_server(config, store, Role.all))
