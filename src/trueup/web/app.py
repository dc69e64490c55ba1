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
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trueup import __version__
from trueup.errors import RefError, StoreError
from trueup.web import feed, health
from trueup.web.auth import TokenAuth
from trueup.web.state import ServerState

OPENAPI_URL = "/api/v1/openapi.json"

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
    """Time every HTTP request by route template (a plain ASGI wrapper: no extra task)."""
    histogram = state.metrics.http_seconds
    inner = app.build_middleware_stack

    def build() -> ASGIApp:
        wrapped = inner()

        async def timed(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await wrapped(scope, receive, send)
                return
            started = time.perf_counter()
            status = [500]

            async def sending(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            try:
                await wrapped(scope, receive, sending)
            finally:
                route = _route(scope)
                histogram.labels(scope["method"], route, str(status[0])).observe(
                    time.perf_counter() - started
                )

        return timed

    app.build_middleware_stack = build  # type: ignore[method-assign]


def _route(scope: Scope) -> str:
    """The route template that served the request (``/api/v1/entities/{kind}/…``), or
    ``other`` (no route matched: a 404 of an unknown path)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "other"
