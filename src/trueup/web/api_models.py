"""The JSON shapes of ``/api/v1``, as pydantic models (they make the OpenAPI document).

Explain, history and scorecard mirror :mod:`trueup.views` (and docs/cli-json.md)
key for key: the API serves exactly what ``--format json`` prints.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FindingOut(_Shape):
    code: str
    severity: str
    subject: str
    message: str
    evidence: dict[str, Any]


class IdentifiedFinding(FindingOut):
    id: int


class Candidate(_Shape):
    value: Any
    source: str
    scope: str
    locator: str
    observed_at: str


class FieldRow(_Shape):
    field: str
    value: Any
    source: str
    scope: str
    locator: str
    references: list[str]
    observed_at: str
    age: str
    disputed_by: list[Candidate]


class Explain(_Shape):
    ref: str
    removed: bool
    revision: int
    emitted: bool
    discovered: bool
    score: int
    fields: list[FieldRow]
    places: list[dict[str, Any]]
    findings: list[FindingOut]
    entity: dict[str, Any]


class Diff(_Shape):
    added: dict[str, Any]
    removed: dict[str, Any]
    changed: dict[str, Any]
    findings_added: list[str]
    findings_resolved: list[str]


class HistoryEntry(_Shape):
    revision: int
    at: str
    change: str
    cause: str
    diff: Diff


class History(_Shape):
    ref: str
    revisions: list[HistoryEntry]


class RevisionOut(_Shape):
    ref: str
    revision: int
    at: datetime
    change: str
    cause: str
    run_id: int | None
    content_hash: str | None
    entity: dict[str, Any] | None = Field(description="null for a removal")


class RevisionDiff(_Shape):
    ref: str
    from_revision: int
    to_revision: int
    diff: Diff


class EntitySummary(_Shape):
    ref: str
    kind: str
    namespace: str
    name: str
    owner: str | None
    score: int
    revision: int
    updated_at: datetime
    emitted: bool
    discovered: bool
    stale: bool
    findings: dict[str, int]


class EntityPage(_Shape):
    items: list[EntitySummary]
    next_cursor: str | None


class FindingPage(_Shape):
    items: list[IdentifiedFinding]
    next_cursor: str | None


class OwnerRow(_Shape):
    owner: str
    entities: int
    score: int
    by_severity: dict[str, int]
    by_code: dict[str, int]
    worst: list[str]


class Scorecard(_Shape):
    counts: dict[str, int]
    scorecard: list[OwnerRow]


class ScopeOut(_Shape):
    scope: str
    nature: str | None
    state: str = Field(
        description="failing, removals held, stale, never read or ok: the first that holds"
    )
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None
    failure_kind: str | None
    failing: bool
    item_count: int
    version: str | None
    held_removals: int
    read_at: datetime | None
    age_seconds: float | None = Field(description="seconds since the scope was last read")
    data_at: datetime | None = Field(
        description="when the newest data of an actual scope was observed (an export's "
        "modification time, a live read's time); null for intent scopes"
    )
    data_age_seconds: float | None = Field(description="seconds since data_at")
    stale: bool = Field(
        description="data_at is older than the source's max_age (or dated further ahead): "
        "its status shows as Unknown"
    )


class SourceOut(_Shape):
    id: str
    type: str
    interval_seconds: float
    max_age_seconds: float | None
    watched: bool
    next_due_at: datetime | None
    consecutive_failures: int
    scopes: list[ScopeOut]


class RunOut(_Shape):
    id: int
    started_at: datetime
    finished_at: datetime | None
    committed_at: datetime | None
    status: str
    trigger: str
    sources: list[str]
    summary: dict[str, Any]


class RefreshRequest(_Shape):
    source: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    scope: str | None = Field(None, min_length=1, max_length=1024, pattern=r"^[^\x00]*$")


class AcceptRemovalsRequest(_Shape):
    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9._-]{0,62}(/[^\x00]{1,1024})?$",
        description="A source id (all its scopes) or source/scope",
    )


class Accepted(_Shape):
    target: str
    status: str = Field(description="queued, coalesced (an equal job waits) or watched")
    job_id: int | None = None
