"""The values the store hands back: stored entities, revisions, scope health, runs.

Frozen dataclasses returned by :class:`trueup.store.store.Store`; the API,
dashboard, CLI and sinks read them. Times are aware datetimes in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from trueup.model.assembled import AssembledEntity
from trueup.model.observation import FailureKind, Nature
from trueup.model.ref import EntityRef


class Change(StrEnum):
    """Why a revision was written."""

    CREATED = "created"
    CHANGED = "changed"
    REMOVED = "removed"
    RESTORED = "restored"


@dataclass(frozen=True, slots=True)
class StoredEntity:
    """The current state of one entity.

    ``updated_at`` is when its current revision was written. A removed entity
    keeps its last assembled state, with ``removed`` True.
    """

    ref: EntityRef
    assembled: AssembledEntity
    revision: int
    updated_at: datetime
    removed: bool


@dataclass(frozen=True, slots=True)
class Revision:
    """One immutable version of an entity; ``assembled`` and ``content_hash`` are None
    for a removal."""

    ref: EntityRef
    number: int
    at: datetime
    run_id: int | None
    cause: str
    change: Change
    assembled: AssembledEntity | None
    content_hash: str | None


@dataclass(frozen=True, slots=True)
class ScopeHealth:
    """How one scope of one source is doing.

    ``nature``, ``read_at``, ``version`` and ``item_count`` describe the current
    snapshot; they are None (0 items) while the scope was never read successfully.
    ``last_error``/``failure_kind`` stay after a later success: compare
    ``last_failure_at`` with ``last_success_at``, or use :attr:`failing`.

    ``data_at`` is how old the data of an actual scope is, which ``read_at`` is not:
    an export written two days ago and read a minute ago is two days old. It is the
    newest ``observed_at`` of the scope's observations (None for an intent scope,
    or an actual one that holds none); a status older than its source's
    ``max_age`` shows as Unknown, so a scope whose ``data_at`` is past it is stale.
    """

    source: str
    scope: str
    nature: Nature | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None
    failure_kind: FailureKind | None
    item_count: int
    version: str | None
    held_removals: int
    read_at: datetime | None
    data_at: datetime | None = None

    @property
    def failing(self) -> bool:
        """The latest read of this scope failed."""
        if self.last_failure_at is None:
            return False
        return self.last_success_at is None or self.last_failure_at > self.last_success_at


@dataclass(frozen=True, slots=True)
class SyncRun:
    """One sync run. ``committed_at`` is set by the commit's own transaction, so after
    an ambiguous commit error it tells whether the commit landed."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str
    trigger: str
    sources: tuple[str, ...]
    summary: Mapping[str, Any] = field(default_factory=dict)
    committed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CommitSummary:
    """What one commit did to the entities and snapshots."""

    created: int = 0
    changed: int = 0
    removed: int = 0
    restored: int = 0
    unchanged: int = 0
    rewritten: int = 0  # of the unchanged: a newer document (observation times), no revision
    revisions_written: int = 0
    snapshots_replaced: int = 0
    snapshots_unchanged: int = 0
