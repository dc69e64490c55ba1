"""``POST /webhooks/github``, ``/webhooks/gitlab``, ``/webhooks/argocd`` (SPEC 6.4).

Each delivery is verified over its raw bytes first (:mod:`trueup.web.signatures`),
then, in one database transaction, checked against the deliveries seen before
(a replay is a no-op, remembered across restarts), recorded, and its refresh
jobs submitted; only after that transaction commits is a 2xx sent. A crash
before the commit answers nothing (the sender redelivers); a crash after it
leaves a durable job. ``ping``, other events and repositories no source reads
are acknowledged and ignored. A webhook is a hint: a push refreshes the scope
that reads that repository (which fetches git itself), an Argo CD notification
the cluster scope that holds that Application.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from trueup.crashpoint import AFTER_RECORD, AFTER_VERIFY, crashpoint
from trueup.scheduler.jobs import SyncJob
from trueup.scheduler.targets import application_targets, is_watched, repository_targets
from trueup.server_config import WebhookKind, WebhookSecretConfig
from trueup.store.operations import Operations
from trueup.web.body import read_body
from trueup.web.signatures import SignatureError, bearer, verify_github, verify_token
from trueup.web.state import ServerState, server_state

router = APIRouter(
    prefix="/webhooks",
    tags=["webhooks"],
    responses={
        400: {"description": "A required header is missing, or the body is not JSON"},
        401: {"description": "The signature or token does not verify"},
        404: {"description": "This webhook is not configured"},
        408: {"description": "The body did not arrive in time"},
        413: {"description": "The body is over 25 MB"},
        503: {"description": "The database does not answer"},
    },
)

_ACK: dict[int | str, dict[str, Any]] = {
    202: {"description": "Recorded; refresh jobs queued"},
    200: {"description": "Ignored"},
}


@dataclass
class Delivery:
    """A verified delivery, reduced to what trueup acts on."""

    provider: WebhookKind
    delivery_id: str
    event: str
    targets: list[tuple[str, str]] = field(default_factory=list)
    ignored: str | None = None  # why nothing is refreshed
    label: str = ""


@router.post("/github", responses=_ACK)
async def github(request: Request) -> JSONResponse:
    """A GitHub delivery, signed with ``X-Hub-Signature-256``."""
    state, hook = _configured(request, "github")
    body = await _verified(request, state, "github", lambda raw: _github_check(request, raw, hook))
    delivery_id = request.headers.get("x-github-delivery")
    if not delivery_id:
        _refuse(state, "github", 400, "X-GitHub-Delivery is missing")
    delivery = Delivery(
        "github", f"github:{delivery_id}", request.headers.get("x-github-event", "")
    )
    if delivery.event == "push":
        payload = await asyncio.to_thread(_json, state, "github", body)
        repo = _object(payload.get("repository"))
        await _push(
            state,
            delivery,
            _names(repo, "full_name", ("clone_url", "html_url", "ssh_url")),
            ref=payload.get("ref"),
            repository=repo,
            unnamed="that repository",
        )
    else:
        delivery.ignored = f"event {delivery.event or '(none)'} is not acted on"
    return await _accept(state, delivery)


@router.post("/gitlab", responses=_ACK)
async def gitlab(request: Request) -> JSONResponse:
    """A GitLab delivery, authenticated by ``X-Gitlab-Token``."""
    state, hook = _configured(request, "gitlab")
    secret = _secret(hook.token)
    body = await _verified(
        request,
        state,
        "gitlab",
        lambda _raw: verify_token(
            request.headers.get("x-gitlab-token"), secret, what="X-Gitlab-Token"
        ),
    )
    key = request.headers.get("idempotency-key")
    if not key and (event_uuid := request.headers.get("x-gitlab-event-uuid")):
        # GitLab gives every webhook fired by one webhook-triggered request the same
        # event UUID, so it names a delivery only together with what was delivered.
        key = f"{event_uuid}:{hashlib.sha256(body).hexdigest()[:32]}"
    event = request.headers.get("x-gitlab-event", "")
    delivery = Delivery("gitlab", f"gitlab:{key or 'unkeyed-' + uuid.uuid4().hex}", event)
    if event in ("Push Hook", "System Hook"):
        payload = await asyncio.to_thread(_json, state, "gitlab", body)
        project = _object(payload.get("project"))
        await _push(
            state,
            delivery,
            _names(project, "path_with_namespace", ("git_http_url", "web_url", "git_ssh_url")),
            ref=payload.get("ref"),
            repository=project,
            unnamed="that project",
        )
    else:
        delivery.ignored = f"event {event or '(none)'} is not acted on"
    return await _accept(state, delivery)


@router.post("/argocd", responses=_ACK)
async def argocd(request: Request) -> JSONResponse:
    """An Argo CD notification (webhook service), authenticated by a bearer token.

    The body names the Application: ``{"app": "{{.app.metadata.name}}"}``.
    """
    state, hook = _configured(request, "argocd")
    secret = _secret(hook.token)
    body = await _verified(
        request,
        state,
        "argocd",
        lambda _raw: verify_token(
            bearer(request.headers.get("authorization")), secret, what="the bearer token"
        ),
    )
    payload = await asyncio.to_thread(_json, state, "argocd", body)
    app = _text(payload.get("app")) or _text(payload.get("application"))
    key = request.headers.get("idempotency-key")
    delivery = Delivery("argocd", f"argocd:{key or 'unkeyed-' + uuid.uuid4().hex}", "notification")
    delivery.label = app or ""
    if not app:
        delivery.ignored = 'the body names no application ({"app": NAME})'
    else:
        targets = await asyncio.to_thread(application_targets, state.config, state.store, app)
        delivery.targets = [t for t in targets if not is_watched(state.config, t[0])]
        if targets and not delivery.targets:
            delivery.ignored = f"application {app} is in a watched cluster: its changes stream in"
        elif not targets:
            delivery.ignored = f"no cluster scope holds application {app}"
    return await _accept(state, delivery)


# --- the steps every provider shares ------------------------------------------


def _configured(request: Request, kind: WebhookKind) -> tuple[ServerState, WebhookSecretConfig]:
    state = server_state(request)
    hook = state.config.server.webhooks.get(kind)
    if hook is None:
        raise HTTPException(404, detail=f"the {kind} webhook is not configured")
    return state, hook


def _names(repository: dict[str, Any], path: str, urls: tuple[str, ...]) -> tuple[str, list[str]]:
    """A push's label for its repository (its path, ``owner/name``) and the names the
    sources are asked about: its URLs when it gives any, else the path. Not the path
    beside URLs: ``owner/name`` alone matches a source reading it on another host."""
    bare = str(repository.get(path) or "")
    found = [text for key in urls if (text := str(repository.get(key) or ""))]
    return bare or (found[0] if found else ""), found or [bare]


async def _push(
    state: ServerState,
    delivery: Delivery,
    named: tuple[str, list[str]],
    *,
    ref: object,
    repository: dict[str, Any],
    unnamed: str,
) -> None:
    """A push to the repository ``named`` (its label and names, :func:`_names`): the
    scopes it names, or why none.

    Found on a worker thread: a source may read its data folder to tell.
    """
    delivery.label, names = named
    delivery.targets = await asyncio.to_thread(
        repository_targets,
        state.config,
        names,
        _branch(ref),
        _text(repository.get("default_branch")),
    )
    if not delivery.targets:
        delivery.ignored = f"no source reads {delivery.label or unnamed} at that ref"


async def _verified(
    request: Request, state: ServerState, kind: str, check: Callable[[bytes], None]
) -> bytes:
    try:
        body = await read_body(request, deadline=state.body_deadline)
    except HTTPException as exc:
        state.metrics.webhooks.labels(
            kind, "too-large" if exc.status_code == 413 else "refused"
        ).inc()
        raise
    try:  # on a worker thread, as the parse: a body may be 25 MB, the loop serves the feed
        await asyncio.to_thread(check, body)
    except SignatureError as exc:
        _refuse(state, kind, 401, str(exc))
    crashpoint(AFTER_VERIFY)
    return body


def _github_check(request: Request, body: bytes, hook: WebhookSecretConfig) -> None:
    verify_github(
        body,
        request.headers.getlist("x-hub-signature-256"),
        request.headers.getlist("x-hub-signature"),
        hook.all_secrets(),
    )


async def _accept(state: ServerState, delivery: Delivery) -> JSONResponse:
    answer = await asyncio.to_thread(_record, state, delivery)
    crashpoint(AFTER_RECORD)
    state.metrics.webhooks.labels(delivery.provider, answer["status"]).inc()
    return JSONResponse(answer, status_code=202 if answer["status"] == "queued" else 200)


def _record(state: ServerState, delivery: Delivery) -> dict[str, Any]:
    """Replay check, delivery record and job submission: one transaction."""
    now = datetime.now(UTC)
    operations = state.store.operations()
    with operations.transaction() as conn:
        if Operations.delivery_status(conn, delivery.delivery_id) is not None:
            return {"status": "replay", "delivery": delivery.delivery_id}
        status = "ignored" if delivery.ignored or state.queue is None else "queued"
        if not Operations.record_delivery(
            conn,
            delivery.delivery_id,
            source=delivery.provider,
            event=delivery.event,
            status=status,
            now=now,
        ):
            return {"status": "replay", "delivery": delivery.delivery_id}
        if status == "ignored":
            return {"status": "ignored", "reason": delivery.ignored or "no job queue"}
        assert state.queue is not None
        jobs = []
        for source, scope in delivery.targets:
            # The delivery id lets a revision's cause name the webhook delivery behind it.
            named = (delivery.provider, delivery.label, "delivery", delivery.delivery_id)
            trigger = " ".join(["webhook", *(part for part in named if part)])
            submitted = state.queue.submit(conn, SyncJob(source, scope, trigger=trigger), now)
            jobs.append(
                {
                    "target": f"{source}/{scope}",
                    "job_id": submitted.job_id,
                    "coalesced": submitted.coalesced,
                }
            )
    return {"status": "queued", "delivery": delivery.delivery_id, "jobs": jobs}


def _refuse(state: ServerState, kind: str, status: int, reason: str) -> None:
    state.metrics.webhooks.labels(kind, "refused").inc()
    raise HTTPException(status, detail=reason)


def _json(state: ServerState, kind: str, body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        _refuse(state, kind, 400, "the body is not JSON")
    if not isinstance(payload, dict):
        _refuse(state, kind, 400, "the body is not a JSON object")
    return dict(payload)


def _secret(value: Any) -> bytes:
    return str(value.get_secret_value()).encode() if value is not None else b""


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _branch(ref: object) -> str | None:
    """``refs/heads/main`` → ``main``; tags and anything else → None."""
    if isinstance(ref, str) and ref.startswith("refs/heads/"):
        return ref.removeprefix("refs/heads/") or None
    return None
