"""The dashboard: server-rendered pages for people under ``/ui`` (SPEC 6.5).

- ``/ui/catalog`` (:mod:`.catalog`): every entity with its kind, owner, score and
  badges; search, filters, keyset pages;
- ``/ui/entities/…`` (:mod:`.entity`): every field with its source, locator, age
  and disputed candidates; status per place with freshness; findings with fix
  hints; the history as a timeline and the diff of any two revisions;
- ``/ui/scorecards`` (:mod:`.scorecard`): each owner's scorecard and its trend;
- ``/ui/sources`` (:mod:`.sources`): each source and scope with its health, and
  the admin action that releases held removals;
- ``/ui/login`` (:mod:`.session`): the token form that sets the session cookie.

Pure view models live in :mod:`.models`, templates in ``templates/`` (Jinja2,
autoescaped), the stylesheet in ``static/``. No JavaScript. The app factory
(:mod:`trueup.web.app`) mounts :data:`router`; everything is read through the
:class:`~trueup.store.Store` query methods and :mod:`trueup.views`.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from trueup.web.ui import catalog, entity, scorecard, session, sources
from trueup.web.ui.templating import PREFIX, STATIC

router = APIRouter(prefix=PREFIX, include_in_schema=False)
"""Every page's route, flat: each module's router already carries the ``/ui`` prefix, and
their routes are composed here in a plain list (no nested routers)."""

_STYLESHEET = (STATIC / "ui.css").read_bytes()


@router.get("/static/ui.css", include_in_schema=False)
def stylesheet() -> Response:
    """The one stylesheet; public (the sign-in page needs it), cached for an hour."""
    return Response(
        _STYLESHEET,
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


for module in (session, catalog, entity, scorecard, sources):
    router.routes.extend(module.router.routes)

__all__ = ["router"]
