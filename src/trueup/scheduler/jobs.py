"""What a job is, and the one protocol both job queues speak.

Webhooks and ``POST /api/v1/refresh`` submit a :class:`SyncJob` inside their own
database transaction (with the delivery record), so the job is durable exactly
when that transaction commits; the ticker submits the periodic ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.engine import Connection

SYNC = "sync"  # a periodic sync
REFRESH = "refresh"  # a sync asked for by a webhook or the API: runs before periodic ones
SCHEDULE = "schedule"  # the trigger of a periodic sync


@dataclass(frozen=True, slots=True)
class SyncJob:
    """Sync one source (``scope`` None: all its scopes) or one scope of it."""

    source: str
    scope: str | None = None
    trigger: str = SCHEDULE
    accept_removals: tuple[str, ...] = ()

    @property
    def target(self) -> str:
        return self.source if self.scope is None else f"{self.source}/{self.scope}"

    @property
    def periodic(self) -> bool:
        return self.trigger == SCHEDULE

    def payload(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "scope": self.scope,
            "trigger": self.trigger,
            "accept_removals": list(self.accept_removals),
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> SyncJob:
        return cls(
            source=str(data["source"]),
            scope=None if data.get("scope") is None else str(data["scope"]),
            trigger=str(data.get("trigger") or SCHEDULE),
            accept_removals=tuple(str(x) for x in data.get("accept_removals") or ()),
        )


@dataclass(frozen=True, slots=True)
class Submitted:
    """A job that is durably recorded: a new one, or an equal one already waiting."""

    job_id: int | None
    coalesced: bool = False


class JobQueue(Protocol):
    """Where jobs wait until a worker runs them."""

    name: str

    def submit(self, conn: Connection, job: SyncJob, now: datetime) -> Submitted:
        """Record ``job`` inside the caller's transaction on ``conn``.

        Durable once that transaction commits. An equal job (same target, same
        kind of trigger) that has not started yet absorbs it: it will read the
        source afresh when it runs, so nothing is lost.
        """
        ...
