"""Rendering the dashboard's pages: one Jinja2 environment, autoescaping everything.

Every value that comes from a source (names, descriptions, annotations, error
messages) is data: the environment escapes all of it, in HTML and in the inline
SVG charts, and nothing in the templates marks a value safe. Undefined names
fail loudly. Each page is sent with headers that forbid scripts, framing and
referrers (the token never travels in a URL, and links to git hosts do not
reveal the dashboard's addresses). Called by every route of :mod:`trueup.web.ui`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from trueup import __version__

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
PREFIX = "/ui"

SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # other sites get no referrer; forms keep their Origin
    "Cache-Control": "no-store",
}


def entity_path(ref: str) -> str:
    """``component:default/api`` → ``/ui/entities/component/default/api``."""
    kind, _, rest = ref.partition(":")
    namespace, _, name = rest.partition("/")
    parts = (quote(part, safe="") for part in (kind, namespace, name))
    return f"{PREFIX}/entities/" + "/".join(parts)


def owner_path(owner: str) -> str:
    return f"{PREFIX}/scorecards/owner?{urlencode({'owner': owner})}"


def catalog_path(**params: str) -> str:
    query = urlencode({k: v for k, v in params.items() if v})
    return f"{PREFIX}/catalog" + (f"?{query}" if query else "")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        entity_path=entity_path,
        owner_path=owner_path,
        catalog_path=catalog_path,
        version=__version__,
        prefix=PREFIX,
    )
    return env


ENVIRONMENT = _environment()


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """``template`` rendered with ``context`` (plus the request), as a page."""
    html = ENVIRONMENT.get_template(template).render({"request": request, **context})
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})
