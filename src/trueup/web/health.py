"""``/healthz``, ``/readyz`` and ``/metrics``: for the orchestrator and Prometheus, no token.

``/healthz`` says the process answers; ``/readyz`` that the database answers too
(a replica that cannot reach PostgreSQL is taken out of the Service);
``/metrics`` renders :class:`trueup.metrics.Metrics`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from trueup.errors import StoreError
from trueup.web.state import server_state

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The database does not answer"}})
def readyz(request: Request) -> Response:
    """The process can serve: its database answers."""
    try:
        generation = server_state(request).store.generation()
    except StoreError as exc:
        return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok", "generation": generation})


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text format."""
    registry = server_state(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
