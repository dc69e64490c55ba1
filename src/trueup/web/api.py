"""``/api/v1``: entities, provenance, history, findings, sources, runs, refresh (SPEC 6.3).

Reads need a ``read`` token, writes an ``admin`` token (bearer). Lists are
keyset-paginated (``cursor`` is the last item's key, ``next_cursor`` says where
the next page starts). The entity, history and scorecard shapes are
:mod:`trueup.views`' — the same as the CLI's ``--format json``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from trueup.errors import ConfigError
from trueup.model.finding import Severity
from trueup.model.ref import EntityRef, parse_ref
from trueup.scheduler.jobs import SyncJob
from trueup.scheduler.targets import is_watched
from trueup.store.pages import EntityFilter, FindingFilter
from trueup.store.records import StoredEntity
from trueup.views.entity import declarations, declared_view, explain_view
from trueup.views.history import diff, history_view
from trueup.views.quality import counts, scorecard_rows
from trueup.views.scopes import scope_json
from trueup.web import api_models as m
from trueup.web.auth import require
from trueup.web.state import ServerState, server_state

PREFIX = "/api/v1"
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A malformed reference or cursor"},
    401: {"description": "No valid token"},
    403: {"description": "The token's role does not allow this"},
    404: {"description": "No such entity, revision or source"},
    503: {"description": "The database does not answer"},
}
router = APIRouter(prefix=PREFIX, tags=["api"], responses=_ERRORS)
reading = [Depends(require("read"))]
admin = [Depends(require("admin"))]

_KIND = r"^[A-Za-z][A-Za-z0-9._-]{0,62}$"
_NAMESPACE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
_PART = r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}"
# A name is any stored one, not only Backstage's: a discovered entity named past its
# rules (an Argo CD Application may have 253 characters) is kept, not served, and listed
# here; its page, and a page of the list that ends on it (its ref is the cursor), answer.
_REF = rf"^[A-Za-z][A-Za-z0-9._-]{{0,62}}:{_PART}/[^/\x00]{{1,1024}}$"
Kind = Annotated[str, Path(pattern=_KIND)]
Namespace = Annotated[str, Path(pattern=_NAMESPACE)]
Name = Annotated[str, Path(min_length=1, max_length=1024)]
Limit = Annotated[int, Query(ge=1, le=500)]


def _ref(kind: str, namespace: str, name: str) -> EntityRef:
    return EntityRef(kind.lower(), namespace.lower(), name.lower())


def _stored(state: ServerState, ref: EntityRef) -> StoredEntity:
    stored = state.store.entity(ref)
    if stored is None:
        refused = declarations(state.store.findings(), ref)
        if refused:
            raise HTTPException(
                404,
                detail={"message": f"{ref} was refused", "declared": declared_view(ref, refused)},
            )
        raise HTTPException(404, detail=f"no entity {ref}")
    return stored


@router.get("/entities", response_model=m.EntityPage, dependencies=reading)
def list_entities(
    request: Request,
    *,
    kind: Annotated[str | None, Query(pattern=_KIND)] = None,
    namespace: Annotated[str | None, Query(pattern=_NAMESPACE)] = None,
    owner: Annotated[str | None, Query(pattern=_REF, description="kind:namespace/name")] = None,
    finding: Annotated[
        str | None, Query(pattern=r"^[a-z][a-z-]{0,63}$", description="a finding code, or any")
    ] = None,
    stale: bool | None = None,
    discovered: bool | None = None,
    cursor: Annotated[str | None, Query(pattern=_REF)] = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Current entities, filtered, ordered by ref."""
    state = server_state(request)
    state.ensure_fresh()
    where = EntityFilter(kind, namespace, owner, finding, stale, discovered)
    after = parse_ref(cursor) if cursor else None
    page = state.store.pages().entities(where, after=after, limit=limit + 1)
    items = [_summary(stored) for stored in page[:limit]]
    more = len(page) > limit
    return {"items": items, "next_cursor": items[-1]["ref"] if more and items else None}


def _summary(stored: StoredEntity) -> dict[str, Any]:
    entity = stored.assembled
    return {
        "ref": str(stored.ref),
        "kind": stored.ref.kind,
        "namespace": stored.ref.namespace,
        "name": stored.ref.name,
        "owner": entity.owner,
        "score": entity.score,
        "revision": stored.revision,
        "updated_at": stored.updated_at,
        "emitted": entity.emitted,
        "discovered": entity.discovered,
        "stale": any(place.stale for place in entity.places),
        "findings": counts(entity.findings),
    }


@router.get("/entities/{kind}/{namespace}/{name}", response_model=m.Explain, dependencies=reading)
def get_entity(request: Request, kind: Kind, namespace: Namespace, name: Name) -> dict[str, Any]:
    """One entity field by field: value, winning source, locator, age, disputed candidates."""
    state = server_state(request)
    state.ensure_fresh()
    return explain_view(_stored(state, _ref(kind, namespace, name)), datetime.now(UTC))


@router.get(
    "/entities/{kind}/{namespace}/{name}/revisions",
    response_model=m.History,
    dependencies=reading,
)
def get_history(request: Request, kind: Kind, namespace: Namespace, name: Name) -> dict[str, Any]:
    """Every revision of one entity, oldest first, each with its diff and cause."""
    ref = _ref(kind, namespace, name)
    revisions = server_state(request).store.revisions(ref)
    if not revisions:
        raise HTTPException(404, detail=f"no history for {ref}")
    return history_view(ref, revisions)


@router.get(
    "/entities/{kind}/{namespace}/{name}/revisions/{number}",
    response_model=m.RevisionOut,
    dependencies=reading,
)
def get_revision(
    request: Request,
    kind: Kind,
    namespace: Namespace,
    name: Name,
    number: Annotated[int, Path(ge=1)],
) -> dict[str, Any]:
    """One revision as it was stored."""
    ref = _ref(kind, namespace, name)
    for rev in server_state(request).store.revisions(ref):
        if rev.number == number:
            return {
                "ref": str(rev.ref),
                "revision": rev.number,
                "at": rev.at,
                "change": str(rev.change),
                "cause": rev.cause,
                "run_id": rev.run_id,
                "content_hash": rev.content_hash,
                "entity": rev.assembled.entity if rev.assembled else None,
            }
    raise HTTPException(404, detail=f"{ref} has no revision {number}")


@router.get(
    "/entities/{kind}/{namespace}/{name}/diff",
    response_model=m.RevisionDiff,
    dependencies=reading,
)
def get_diff(
    request: Request,
    *,
    kind: Kind,
    namespace: Namespace,
    name: Name,
    from_: Annotated[int, Query(alias="from", ge=1)],
    to: Annotated[int, Query(ge=1)],
) -> dict[str, Any]:
    """What changed between two revisions (fields and findings)."""
    ref = _ref(kind, namespace, name)
    by_number = {rev.number: rev for rev in server_state(request).store.revisions(ref)}
    missing = [n for n in (from_, to) if n not in by_number]
    if missing:
        raise HTTPException(404, detail=f"{ref} has no revision {missing[0]}")
    return {
        "ref": str(ref),
        "from_revision": from_,
        "to_revision": to,
        "diff": diff(by_number[from_].assembled, by_number[to].assembled),
    }


@router.get("/findings", response_model=m.FindingPage, dependencies=reading)
def list_findings(
    request: Request,
    *,
    code: Annotated[str | None, Query(pattern=r"^[a-z][a-z-]{0,63}$")] = None,
    severity: Severity | None = None,
    owner: Annotated[str | None, Query(pattern=_REF)] = None,
    subject: Annotated[str | None, Query(max_length=2048, pattern=r"^[^\x00]+$")] = None,
    cursor: Annotated[int | None, Query(ge=0)] = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """Current findings, filtered by code, severity, owner or subject, by id."""
    state = server_state(request)
    state.ensure_fresh()
    where = FindingFilter(code, severity, owner, subject)
    page = state.store.pages().findings(where, after=cursor, limit=limit + 1)
    items = [{"id": key, **f.to_json()} for key, f in page[:limit]]
    more = len(page) > limit
    return {"items": items, "next_cursor": str(items[-1]["id"]) if more and items else None}


@router.get("/scorecard", response_model=m.Scorecard, dependencies=reading)
def get_scorecard(request: Request) -> dict[str, Any]:
    """The data-quality scorecard per owner, and the finding counts."""
    state = server_state(request)
    state.ensure_fresh()
    findings = state.store.findings()
    return {"counts": counts(findings), "scorecard": scorecard_rows(state.store.scores(), findings)}


@router.get("/sources", response_model=list[m.SourceOut], dependencies=reading)
def list_sources(request: Request) -> list[dict[str, Any]]:
    """Every configured source with the health of each of its scopes (docs/cli-json.md)."""
    state = server_state(request)
    now = datetime.now(UTC)
    health = state.store.scopes()
    schedules = state.store.operations().schedules()
    out = []
    for source in state.config.sources:
        schedule = schedules.get(source.id)
        out.append(
            {
                "id": source.id,
                "type": source.type,
                "interval_seconds": source.interval.total_seconds(),
                "max_age_seconds": source.max_age.total_seconds() if source.max_age else None,
                "watched": is_watched(state.config, source.id),
                "next_due_at": schedule.next_due_at if schedule else None,
                "consecutive_failures": schedule.failures if schedule else 0,
                "scopes": [
                    scope_json(h, source.max_age, now) for h in health if h.source == source.id
                ],
            }
        )
    return out


@router.get("/runs", response_model=list[m.RunOut], dependencies=reading)
def list_runs(request: Request, limit: Limit = 20) -> list[dict[str, Any]]:
    """The latest sync runs, newest first."""
    return [
        {
            "id": run.id,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "committed_at": run.committed_at,
            "status": run.status,
            "trigger": run.trigger,
            "sources": list(run.sources),
            "summary": dict(run.summary),
        }
        for run in server_state(request).store.runs(limit=limit)
    ]


@router.post("/refresh", response_model=m.Accepted, status_code=202, dependencies=admin)
def refresh(request: Request, body: m.RefreshRequest) -> dict[str, Any]:
    """Queue a sync of one source or one of its scopes now (admin)."""
    job = SyncJob(body.source, body.scope, trigger="api refresh")
    return submit(server_state(request), job)


@router.post("/removals/accept", response_model=m.Accepted, status_code=202, dependencies=admin)
def accept_removals(request: Request, body: m.AcceptRemovalsRequest) -> dict[str, Any]:
    """Release held removals of a source or scope: a sync that may remove them (admin)."""
    source, _, scope = body.name.partition("/")
    job = SyncJob(
        source, scope or None, trigger="api accept-removals", accept_removals=(body.name,)
    )
    return submit(server_state(request), job)


def submit(state: ServerState, job: SyncJob) -> dict[str, Any]:
    """Queue ``job`` (404 for an unknown source; a watched source needs no refresh, but
    a release of its held removals is a job like any other: the watch's own syncs never
    accept them); the dashboard's admin forms submit through here too."""
    try:
        state.config.source(job.source)
    except ConfigError as exc:
        raise HTTPException(404, detail=str(exc)) from exc
    if is_watched(state.config, job.source) and not job.accept_removals:
        return {"target": job.target, "status": "watched"}
    if state.queue is None:
        raise HTTPException(503, detail="this process records no jobs (no worker configured)")
    with state.store.operations().transaction() as conn:
        submitted = state.queue.submit(conn, job, datetime.now(UTC))
    return {
        "target": job.target,
        "status": "coalesced" if submitted.coalesced else "queued",
        "job_id": submitted.job_id,
    }
