"""``/ui/entities/{kind}/{namespace}/{name}``: one entity, its history and its diffs.

The entity page answers "why does the portal say this, and since when?": every
field with its winning source, locator, age and the candidates that lost; the
status per place with its freshness; the findings with how to fix them; and the
latest revisions. ``…/history`` is the whole timeline, ``…/diff?from=&to=`` the
field-level diff of any two revisions. Reads through the store's query methods
and :mod:`trueup.views`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from trueup.model.ref import EntityRef
from trueup.store.records import Revision
from trueup.views.entity import declarations, declared_documents
from trueup.web.state import ServerState, server_state
from trueup.web.ui.models.entity import entity_view, finding_views
from trueup.web.ui.models.history import describe_cause, latest, revision_diff, timeline
from trueup.web.ui.models.locators import Locators
from trueup.web.ui.session import Viewer, error_page, page_context
from trueup.web.ui.templating import PREFIX, render

router = APIRouter(prefix=PREFIX, include_in_schema=False)

_PART = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
Kind = Annotated[str, Path(pattern=r"^[A-Za-z][A-Za-z0-9._-]{0,62}$")]
Namespace = Annotated[str, Path(pattern=_PART)]
# Any stored name, not only Backstage's: a discovered entity named past its rules (an Argo
# CD Application may have 253 characters) is kept, not served, and its page says why.
Name = Annotated[str, Path(min_length=1, max_length=1024)]
RECENT = 5  # revisions on the entity page
HISTORY_PAGE = 50  # revisions per page of the history


def _ref(kind: str, namespace: str, name: str) -> EntityRef:
    return EntityRef.of(kind, namespace, name)


def _locators(state: ServerState) -> Locators:
    return Locators(state.config.sources)


@router.get("/entities/{kind}/{namespace}/{name}", include_in_schema=False)
def entity_page(
    request: Request, principal: Viewer, *, kind: Kind, namespace: Namespace, name: Name
) -> Response:
    state = server_state(request)
    state.ensure_fresh()
    ref = _ref(kind, namespace, name)
    stored = state.store.entity(ref)
    if stored is None:
        return _not_found(request, state, principal, ref)
    now = datetime.now(UTC)
    revisions = state.store.revisions(ref)
    context = {
        **page_context(request, principal, "catalog"),
        "entity": entity_view(stored, _locators(state), now),
        "recent": latest(revisions, now, RECENT),
        "revisions": [_choice(r) for r in reversed(revisions)],
        "total_revisions": len(revisions),
    }
    return render(request, "entity.html", context)


@router.get("/entities/{kind}/{namespace}/{name}/history", include_in_schema=False)
def history_page(
    request: Request,
    principal: Viewer,
    *,
    kind: Kind,
    namespace: Namespace,
    name: Name,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    state = server_state(request)
    ref = _ref(kind, namespace, name)
    revisions = state.store.revisions(ref)
    if not revisions:
        return _not_found(request, state, principal, ref)
    entries = timeline(revisions, datetime.now(UTC))
    start = (page - 1) * HISTORY_PAGE
    context = {
        **page_context(request, principal, "catalog"),
        "ref": str(ref),
        "entries": entries[start : start + HISTORY_PAGE],
        "page": page,
        "pages": (len(entries) + HISTORY_PAGE - 1) // HISTORY_PAGE,
        "revisions": [_choice(r) for r in reversed(revisions)],
        "total_revisions": len(revisions),
    }
    return render(request, "history.html", context)


@router.get("/entities/{kind}/{namespace}/{name}/diff", include_in_schema=False)
def diff_page(
    request: Request,
    principal: Viewer,
    *,
    kind: Kind,
    namespace: Namespace,
    name: Name,
    from_: Annotated[int | None, Query(alias="from", ge=1)] = None,
    to: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    state = server_state(request)
    ref = _ref(kind, namespace, name)
    revisions = state.store.revisions(ref)
    if not revisions:
        return _not_found(request, state, principal, ref)
    by_number = {r.number: r for r in revisions}
    newest = revisions[-1].number
    to = to or newest
    from_ = from_ or max(1, to - 1)
    missing = [n for n in (from_, to) if n not in by_number]
    if missing:
        message = f"{ref} has no revision {missing[0]} (it has 1 to {newest})."
        return error_page(request, 404, message, principal)
    old, new = by_number[from_], by_number[to]
    context = {
        **page_context(request, principal, "catalog"),
        "ref": str(ref),
        "old": _described(old),
        "new": _described(new),
        "diff": revision_diff(old, new),
        "revisions": [_choice(r) for r in reversed(revisions)],
        "total_revisions": len(revisions),
    }
    return render(request, "diff.html", context)


def _choice(rev: Revision) -> dict[str, object]:
    """A revision as an option of the diff form."""
    return {"number": rev.number, "label": f"{rev.number} · {rev.change} · {rev.at:%Y-%m-%d %H:%M}"}


def _described(rev: Revision) -> dict[str, object]:
    return {
        "number": rev.number,
        "at": rev.at.isoformat(),
        "change": str(rev.change),
        "cause": describe_cause(rev.cause),
    }


def _not_found(request: Request, state: ServerState, principal: Viewer, ref: EntityRef) -> Response:
    """404, but for a ref that was declared and refused: where, and why (as explain says)."""
    refused = declarations(state.store.findings(), ref)
    context = {
        **page_context(request, principal, "catalog"),
        "ref": str(ref),
        "documents": declared_documents(refused),
        "findings": finding_views(refused),
    }
    return render(request, "missing.html", context, status=404)
