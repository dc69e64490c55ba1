"""The application factory: one FastAPI app with a router per concern.

``create_app(state)`` mounts :func:`routers` (feed, health, API, webhooks and the
dashboard under ``/ui``, :mod:`trueup.web.ui`) plus any ``extra`` routers a caller
adds; the dashboard reads the same :class:`ServerState` and signs people in with
the same tokens, kept in an HttpOnly cookie (:data:`trueup.web.auth.COOKIE`). The
OpenAPI document is served at ``/api/v1/openapi.json``. A middleware times every
request for ``/metrics`` by route template, never by raw path.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.routing import Match

from trueup import __version__
from trueup.errors import RefError, StoreError
from trueup.web import feed, health
from trueup.web.auth import TokenAuth
from trueup.web.state import ServerState

OPENAPI_URL = "/api/v1/openapi.json"

Respond = Callable[[Request], Awaitable[Response]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def routers(*, serving: bool = True) -> list[APIRouter]:
    """The routers a trueup server mounts, in order; a worker-only process (``serving``
    False) answers only health and metrics."""
    from trueup.web import api, ui, webhooks

    if not serving:
        return [health.router]
    return [feed.router, health.router, api.router, webhooks.router, ui.router]


def create_app(
    state: ServerState,
    *,
    extra: Sequence[APIRouter] = (),
    lifespan: Lifespan | None = None,
    serving: bool = True,
) -> FastAPI:
    """The HTTP application over ``state``; ``lifespan`` starts and stops background work."""

    @asynccontextmanager
    async def nothing(_app: FastAPI) -> AsyncIterator[None]:
        yield

    app = FastAPI(
        title="trueup",
        version=__version__,
        description="The merged catalog, its provenance, findings and history (SPEC 6.3).",
        openapi_url=OPENAPI_URL,
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan or nothing,
    )
    app.state.trueup = state
    app.state.auth = TokenAuth(state.config.server.tokens)
    for router in [*routers(serving=serving), *extra]:
        app.include_router(router)
    app.add_exception_handler(StoreError, _store_unavailable)
    app.add_exception_handler(RefError, _bad_ref)
    _time_requests(app, state)
    return app


async def _store_unavailable(_request: Request, exc: Exception) -> Response:
    """The database failed: 503 with the store's message (it never holds a password)."""
    return JSONResponse({"detail": str(exc)}, status_code=503)


async def _bad_ref(_request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": str(exc)}, status_code=400)


def _time_requests(app: FastAPI, state: ServerState) -> None:
    histogram = state.metrics.http_seconds

    @app.middleware("http")
    async def timed(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        histogram.labels(request.method, _route(app, request), str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response


def _route(app: FastAPI, request: Request) -> str:
    """The route template that matched (``/api/v1/entities/{kind}/…``), or ``other``."""
    for route in app.router.routes:
        match, _ = route.matches(request.scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "other"))
    return "other"
