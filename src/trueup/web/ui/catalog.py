"""``/ui/catalog``: every entity with its kind, owner, quality score and badges.

Search and filters (kind, owner, finding code, stale, drift, discovered) run in
the database through :meth:`trueup.store.Store.pages` with keyset pagination,
so a page costs the same at the end of 100,000 entities as at the start; the
kinds and owner suggestions come from indexes (:meth:`trueup.store.Store.overview`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from trueup.web.state import server_state
from trueup.web.ui.models.catalog import PAGE_SIZE, catalog_page, parse_query
from trueup.web.ui.session import Viewer, page_context
from trueup.web.ui.templating import PREFIX, render

router = APIRouter(prefix=PREFIX, include_in_schema=False)

OWNER_SUGGESTIONS = 500  # more owners than this: a plain text field, no list


@router.get("/", include_in_schema=False)
def home() -> Response:
    return RedirectResponse(f"{PREFIX}/catalog", status_code=303)


@router.get("/catalog", include_in_schema=False)
def catalog(request: Request, principal: Viewer) -> Response:
    state = server_state(request)
    state.ensure_fresh()
    query = parse_query(request.query_params)
    fetched = state.store.pages().entities(query.where(), after=query.after, limit=PAGE_SIZE + 1)
    overview = state.store.overview()
    owners = overview.owners(limit=OWNER_SUGGESTIONS + 1)
    page = catalog_page(
        query,
        fetched,
        datetime.now(UTC),
        kinds=overview.kinds(),
        owners=owners if len(owners) <= OWNER_SUGGESTIONS else (),
    )
    return render(
        request,
        "catalog.html",
        {**page_context(request, principal, "catalog"), "page": page},
    )
