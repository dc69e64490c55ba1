"""``/ui/scorecards``: each owner's data-quality scorecard and its trend over time.

The scorecards read every entity's score and every finding; the trend replays
the stored revisions. Both are kept per process and rebuilt only when the
store's generation moves (a sync committed), and the trend then reads only the
revisions written since (:class:`~trueup.web.ui.models.trend.ScoreTrend`), so
at 100,000 entities a page view after the first costs no database work.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from trueup.checks.scorecard import NO_OWNER
from trueup.errors import RefError
from trueup.model.ref import parse_ref
from trueup.store.pages import EntityFilter
from trueup.web.state import ServerState, server_state
from trueup.web.ui.models.catalog import catalog_rows
from trueup.web.ui.models.chart import line_chart
from trueup.web.ui.models.scorecard import Scorecards, scorecards
from trueup.web.ui.models.trend import ScoreTrend
from trueup.web.ui.session import Viewer, error_page, page_context
from trueup.web.ui.templating import PREFIX, render

router = APIRouter(prefix=PREFIX, include_in_schema=False)

OWNERS_PER_PAGE = 100
LISTED = 25  # stale and drifting entities listed on an owner's card


@dataclass
class ScorecardCache:
    """The scorecards of one store generation and the trend replayed so far."""

    trend: ScoreTrend = field(default_factory=ScoreTrend)
    generation: int = -1
    day: str = ""
    cards: Scorecards | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self, state: ServerState) -> Scorecards:
        now = datetime.now(UTC)
        with self.lock:
            generation = state.store.generation()
            if (
                self.cards is None
                or generation != self.generation
                or now.date().isoformat() != self.day
            ):
                self.trend.add(state.store.overview().score_changes(after=self.trend.last_id))
                self.cards = scorecards(
                    state.store.scores(), state.store.findings(), self.trend, now.date()
                )
                self.generation, self.day = generation, now.date().isoformat()
            return self.cards


def _cache(request: Request) -> ScorecardCache:
    """This app's cache, made on first use."""
    app_state = request.app.state
    with _MAKING:
        cache = getattr(app_state, "ui_scorecards", None)
        if cache is None:
            cache = ScorecardCache()
            app_state.ui_scorecards = cache
    assert isinstance(cache, ScorecardCache)
    return cache


_MAKING = threading.Lock()


@router.get("/scorecards", include_in_schema=False)
def scorecards_page(
    request: Request, principal: Viewer, page: Annotated[int, Query(ge=1, le=10_000)] = 1
) -> Response:
    state = server_state(request)
    state.ensure_fresh()
    cards = _cache(request).current(state)
    start = (page - 1) * OWNERS_PER_PAGE
    context = {
        **page_context(request, principal, "scorecards"),
        "cards": cards,
        "shown": cards.cards[start : start + OWNERS_PER_PAGE],
        "page": page,
        "pages": max(1, (len(cards.cards) + OWNERS_PER_PAGE - 1) // OWNERS_PER_PAGE),
    }
    return render(request, "scorecards.html", context)


@router.get("/scorecards/owner", include_in_schema=False)
def owner_page(
    request: Request, principal: Viewer, owner: Annotated[str, Query(max_length=300)]
) -> Response:
    state = server_state(request)
    state.ensure_fresh()
    if owner != NO_OWNER:
        try:
            owner = str(parse_ref(owner, default_kind="group"))
        except RefError as exc:
            return error_page(
                request, 400, f"{owner!r} is not an owner reference: {exc}", principal
            )
    card = _cache(request).current(state).card(owner)
    if card is None:
        return error_page(request, 404, f"{owner} owns no entity in the catalog.", principal)
    now = datetime.now(UTC)
    lists = {}
    if owner != NO_OWNER:
        pages = state.store.pages()
        for name, where in (
            ("stale", EntityFilter(owner=owner, stale=True)),
            ("drifting", EntityFilter(owner=owner, drift=True)),
        ):
            lists[name] = catalog_rows(pages.entities(where, after=None, limit=LISTED), now)
    context = {
        **page_context(request, principal, "scorecards"),
        "card": card,
        "filterable": owner != NO_OWNER,  # the catalog filters by an owner, not by none
        "chart": line_chart(card.trend),
        "stale_rows": lists.get("stale", []),
        "drifting_rows": lists.get("drifting", []),
        "listed": LISTED,
    }
    return render(request, "owner.html", context)
