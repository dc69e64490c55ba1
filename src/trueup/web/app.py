"""The application factory: one FastAPI app with a router per concern.

``create_app(state)`` mounts :func:`routers` (feed, health, API, webhooks and the
dashboard under ``/ui``, :mod:`trueup.web.ui`) plus any ``extra`` routers a caller
adds; the dashboard reads the same :class:`ServerState` and signs people in with
the same tokens, kept in an HttpOnly cookie (:data:`trueup.web.auth.COOKIE`). The
OpenAPI document is served at ``/api/v1/openapi.json``. A middleware times every
request for ``/metrics`` by route template, never by raw path; another refuses a
request body over :data:`MAX_FORM_BODY` (413) before it is read whole, since FastAPI
reads a body before it checks the token (the webhooks read theirs themselves, up
to 25 MB: :mod:`trueup.web.body`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trueup import __version__
from trueup.errors import RefError, StoreError
from trueup.web import feed, health
from trueup.web.auth import TokenAuth
from trueup.web.state import ServerState
from trueup.web.ui.session import invalid_request

OPENAPI_URL = "/api/v1/openapi.json"
MAX_FORM_BODY = 64 * 1024  # bytes an API or dashboard request may carry (a form, a refresh)
_OWN_BODY = "/webhooks/"  # routes that read and limit their bodies themselves

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
    app.add_middleware(_BodyLimit, limit=MAX_FORM_BODY)
    app.add_exception_handler(StoreError, _store_unavailable)
    app.add_exception_handler(RefError, _bad_ref)
    app.add_exception_handler(RequestValidationError, invalid_request)
    _time_requests(app, state)
    return app


class _BodyLimit:
    """413 for a body over ``limit``: at once when ``Content-Length`` says so, else as
    soon as the received bytes pass it (a plain ASGI wrapper of ``receive``)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_OWN_BODY):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await _too_large(self.limit)(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, detail=f"the body is over the {self.limit}-byte limit")
            return message

        await self.app(scope, limited, send)


def _too_large(limit: int) -> Response:
    return JSONResponse(
        {"detail": f"the body is over the {limit}-byte limit"},
        status_code=413,
        headers={"Connection": "close"},
    )


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
