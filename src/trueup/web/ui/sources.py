"""``/ui/sources``: every source and scope with its health, and the release of held removals.

Releasing held removals (SPEC 5.4) is an admin action: a form POST to
``/ui/sources/release`` that needs an admin session, or an admin token typed
into the form by someone signed in to read, and this session's CSRF token
(:mod:`trueup.web.ui.session`). It queues the same job as
``POST /api/v1/removals/accept`` (:func:`trueup.web.api.submit`); the result is
shown on the sources page after a redirect, so reloading it sends nothing again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from trueup.scheduler.jobs import SyncJob
from trueup.scheduler.targets import is_watched
from trueup.web.api import submit
from trueup.web.state import ServerState, server_state
from trueup.web.ui.models.sources import run_views, source_views
from trueup.web.ui.session import FORM_REFUSED, Viewer, error_page, form_refused, page_context
from trueup.web.ui.templating import PREFIX, SECURITY_HEADERS, render

router = APIRouter(prefix=PREFIX, include_in_schema=False)

RUNS_SHOWN = 10
_OUTCOMES = ("queued", "coalesced")  # what submit() answers for a release
_RELEASE_NAME = r"^[a-z0-9][a-z0-9._-]{0,62}(/[^\x00]{1,1024})?$"


def _budget(state: ServerState, source: str) -> tuple[float | None, float | None]:
    """This process's last reading of a GitHub source's rate-limit budget."""
    registry = state.metrics.registry
    labels = {"source": source}
    return (
        registry.get_sample_value("trueup_github_ratelimit_remaining", labels),
        registry.get_sample_value("trueup_github_ratelimit_limit", labels),
    )


@router.get("/sources", include_in_schema=False)
def sources_page(
    request: Request,
    principal: Viewer,
    released: str | None = None,  # a release just queued: what, and its outcome
    status: str | None = None,
) -> Response:
    state = server_state(request)
    now = datetime.now(UTC)
    runs = state.store.runs(limit=100)
    views = source_views(
        state.config,
        state.store.scopes(),
        state.store.operations().schedules(),
        runs,
        watched=lambda source: is_watched(state.config, source),
        budget=lambda source: _budget(state, source),
        now=now,
    )
    notice = None
    # Read from the URL the release redirects to: shown only for a scope this dashboard
    # lists and an outcome it gives, so a link made elsewhere cannot put words here.
    known = {view.id for view in views} | {s.release for view in views for s in view.scopes}
    if released in known and status in _OUTCOMES:
        notice = f"Release of held removals in {released}: {status}."
    context = {
        **page_context(request, principal, "sources"),
        "sources": views,
        "runs": run_views(runs[:RUNS_SHOWN], now),
        "notice": notice,
    }
    return render(request, "sources.html", context)


@router.post("/sources/release", include_in_schema=False)
def release(
    request: Request,
    principal: Viewer,
    name: Annotated[str, Form(pattern=_RELEASE_NAME, max_length=1100)],
    csrf: Annotated[str, Form(max_length=128)] = "",
    admin_token: Annotated[str, Form(max_length=4096)] = "",
) -> Response:
    """Queue a sync that may remove what ``name`` (a source, or source/scope) holds."""
    if form_refused(request, csrf):
        return error_page(request, 403, FORM_REFUSED, principal)
    actor = principal
    if admin_token.strip():
        typed = request.app.state.auth.identify(admin_token.strip())
        if typed is None:
            return error_page(request, 403, "That admin token is not valid.", principal)
        actor = typed
    if not actor.may("admin"):
        return error_page(request, 403, "Releasing held removals needs an admin token.", principal)
    state = server_state(request)
    source, _, scope = name.partition("/")
    job = SyncJob(
        source,
        scope or None,
        trigger=f"dashboard accept-removals by {actor.name}",
        accept_removals=(name,),
    )
    try:
        queued = submit(state, job)
    except HTTPException as exc:
        return error_page(request, exc.status_code, str(exc.detail), principal)
    location = f"{PREFIX}/sources?" + urlencode({"released": name, "status": queued["status"]})
    return RedirectResponse(location, status_code=303, headers=dict(SECURITY_HEADERS))
