"""The Backstage feed: ``GET /backstage/entities.yaml`` (and ``.json``), streamed.

Exactly what ``trueup export`` prints: the stored feed rows read through
:func:`trueup.sinks.publish.publishable`, the whole-feed safety gate. Backstage's
URL reader polls it, so a poll that finds nothing new must be cheap: the ETag
is the feed generation (moved by every commit that wrote an entity row, whichever
sync made it; not by one that changed nothing: :mod:`trueup.store.generation`)
plus the fingerprint of what else shapes the bytes (emission policy, URLs,
trueup's version, the secrets masked with, the kind filter, the format), and an
``If-None-Match`` that matches is answered 304 without reading a single entity.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from trueup.feed import render_json, render_yaml
from trueup.model.finding import Finding
from trueup.redaction import KNOWN_SECRETS
from trueup.sinks.publish import publishable
from trueup.web.auth import Principal, require
from trueup.web.state import ServerState, server_state

log = logging.getLogger(__name__)

router = APIRouter(
    tags=["feed"],
    responses={
        401: {"description": "No valid token (bearer or ?token=)"},
        503: {"description": "The database does not answer"},
    },
)

_CHUNK = 64 * 1024  # bytes handed to the socket at a time


def _public(request: Request) -> bool:
    return server_state(request).config.server.public_feed


reader = require("read", query=True, public=_public)
KindFilter = Annotated[
    list[Annotated[str, Query(pattern=r"^[A-Za-z][A-Za-z0-9._-]{0,62}$")]] | None,
    Query(description="Only these kinds (repeatable), e.g. kind=component"),
]


@router.get(
    "/backstage/entities.yaml",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/yaml": {}}}, 304: {"description": "Not modified"}},
)
def feed_yaml(
    request: Request,
    kind: KindFilter = None,
    principal: Principal = Depends(reader),  # noqa: B008
) -> Response:
    """Every emitted entity as multi-document YAML: a Backstage ``url`` location."""
    return _feed(request, kind, "yaml")


@router.get(
    "/backstage/entities.json",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}}}, 304: {"description": "Not modified"}},
)
def feed_json(
    request: Request,
    kind: KindFilter = None,
    principal: Principal = Depends(reader),  # noqa: B008
) -> Response:
    """The same entities as ``{"items": [...]}``."""
    return _feed(request, kind, "json")


def _feed(request: Request, kind: list[str] | None, fmt: str) -> Response:
    state = server_state(request)
    state.ensure_fresh()
    kinds = frozenset(k.lower() for k in kind) if kind else None
    tag = etag(state, kinds, fmt)
    if matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={"ETag": tag})
    held: list[Finding] = []
    rows = publishable(state.store.feed_rows(kinds=kinds), state.emission, held)
    render = render_json if fmt == "json" else render_yaml
    media = "application/json" if fmt == "json" else "application/yaml; charset=utf-8"
    return StreamingResponse(
        _chunked(render(rows), held),  # masked by the gate, as `trueup export`
        media_type=media,
        headers={"ETag": tag, "Cache-Control": "no-cache"},
    )


def etag(state: ServerState, kinds: frozenset[str] | None, fmt: str) -> str:
    """The feed's ETag, from the feed generation and everything else that shapes it.

    Rows are masked again as they are served, with the secrets known now, so those
    shape the bytes too: a secret rotated in ``trueup.yaml`` changes the ETag though no
    entity is written. They enter as the redaction layer's salted, slow fingerprint of
    all of them (salted with this deployment's feed fingerprint, the same on every
    replica), and only through a hash cut to 64 bits: the header gives none back.
    """
    generation = state.store.feed_generation()
    fingerprint = state.feed_fingerprint()
    masked_with = KNOWN_SECRETS.fingerprint(f"feed etag {fingerprint}".encode())
    shaped = [fingerprint, fmt, ",".join(sorted(kinds or ())), masked_with]
    variant = hashlib.sha256("\0".join(shaped).encode()).hexdigest()[:16]
    return f'"g{generation}-{variant}"'


def matches(header: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``tag`` (weak comparison, ``*`` included)."""
    if not header:
        return False
    for candidate in header.split(","):
        value = candidate.strip()
        if value == "*" or value.removeprefix("W/") == tag:
            return True
    return False


def _chunked(parts: Iterable[str], held: list[Finding]) -> Iterator[bytes]:
    """The rendered feed in blocks of about 64 KiB (one thread hop per block, not per entity)."""
    buffer: list[bytes] = []
    size = 0
    iterator = iter(parts)
    try:
        for part in iterator:
            data = part.encode()
            buffer.append(data)
            size += len(data)
            if size >= _CHUNK:
                yield b"".join(buffer)
                buffer, size = [], 0
        if buffer:
            yield b"".join(buffer)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()  # a client that hung up: give the database cursor back now
        for f in held:
            log.warning("held back from the feed: %s: %s", f.subject, f.message)
