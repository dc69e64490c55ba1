"""The sources page's model: every configured source and scope with its health.

For each scope: when it was last read successfully and how long ago, how old
the data it holds is (an actual scope's: ``stale`` past the source's ``max_age``,
as :mod:`trueup.views.scopes` judges it for the API too), its last error (and
whether the latest read failed), the items of its current snapshot,
the removals held back (SPEC 5.4) with the name an admin releases them by, and
the problems found reading it. For GitHub sources, the rate-limit budget: the
numbers this process last saw, and the note of the latest sync that read the
source (shared by every replica through the store). Called by
:mod:`trueup.web.ui.sources`; pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from trueup.config import Config
from trueup.store.operations import Schedule
from trueup.store.records import ScopeHealth, SyncRun
from trueup.views.age import age
from trueup.views.scopes import data_stale, scope_state

Budget = Callable[[str], tuple[float | None, float | None]]  # source -> (remaining, limit)


@dataclass(frozen=True, slots=True)
class Moment:
    """A time as ISO text and as an age (``3h ago``); both ``-`` when unknown."""

    at: str
    age: str

    @classmethod
    def of(cls, moment: datetime | None, now: datetime) -> Moment:
        """``moment`` as ``3h ago``, or ``in 9m`` when it is still to come."""
        if moment is not None and moment > now:
            return cls(moment.isoformat(), "in " + age(now, moment).removesuffix(" ago"))
        return cls(moment.isoformat() if moment else "-", age(moment, now))


@dataclass(frozen=True, slots=True)
class ScopeView:
    scope: str
    release: str  # "source/scope": what the admin action releases
    state: str  # ok, stale, failing, removals held, never read
    nature: str
    last_success: Moment
    last_failure: Moment
    last_error: str | None
    failure_kind: str | None
    items: int
    version: str | None
    held_removals: int
    read: Moment
    data: Moment  # how old the data is (actual scopes): "-" when unknown
    stale: bool  # the data is past the source's max_age


@dataclass(frozen=True, slots=True)
class RateLimitView:
    remaining: int | None  # this process's last reading
    limit: int | None
    note: str | None  # what the latest sync of the source said of its budget


@dataclass(frozen=True, slots=True)
class SourceView:
    id: str
    type: str
    interval: str
    max_age: str
    watched: bool
    next_due: Moment
    failures: int
    scopes: Sequence[ScopeView]
    held_removals: int
    rate_limit: RateLimitView | None


@dataclass(frozen=True, slots=True)
class RunView:
    id: int
    started: Moment
    status: str
    trigger: str
    sources: str
    summary: str


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def scope_view(health: ScopeHealth, max_age: timedelta | None, now: datetime) -> ScopeView:
    return ScopeView(
        scope=health.scope,
        release=f"{health.source}/{health.scope}",
        state=scope_state(health, max_age, now),
        nature=health.nature.value if health.nature else "-",
        last_success=Moment.of(health.last_success_at, now),
        last_failure=Moment.of(health.last_failure_at, now),
        last_error=health.last_error,
        failure_kind=health.failure_kind.value if health.failure_kind else None,
        items=health.item_count,
        version=health.version,
        held_removals=health.held_removals,
        read=Moment.of(health.read_at, now),
        data=Moment.of(health.data_at, now),
        stale=data_stale(health, max_age, now),
    )


def source_views(
    config: Config,
    health: Sequence[ScopeHealth],
    schedules: Mapping[str, Schedule],
    runs: Sequence[SyncRun],
    *,
    watched: Callable[[str], bool],
    budget: Budget,
    now: datetime,
) -> list[SourceView]:
    """One view per configured source, in configuration order."""
    views = []
    for source in config.sources:
        scopes = [scope_view(h, source.max_age, now) for h in health if h.source == source.id]
        schedule = schedules.get(source.id)
        rate_limit = None
        if source.type == "github":
            remaining, limit = budget(source.id)
            rate_limit = RateLimitView(
                remaining=None if remaining is None else int(remaining),
                limit=None if limit is None else int(limit),
                note=_latest_note(runs, source.id),
            )
        views.append(
            SourceView(
                id=source.id,
                type=source.type,
                interval=_duration(source.interval.total_seconds()),
                max_age=_duration(source.max_age.total_seconds() if source.max_age else None),
                watched=watched(source.id),
                next_due=Moment.of(schedule.next_due_at if schedule else None, now),
                failures=schedule.failures if schedule else 0,
                scopes=scopes,
                held_removals=sum(s.held_removals for s in scopes),
                rate_limit=rate_limit,
            )
        )
    return views


def _latest_note(runs: Sequence[SyncRun], source: str) -> str | None:
    """The newest sync run's note about ``source`` (runs are newest first)."""
    for run in runs:
        notes = run.summary.get("notes")
        if isinstance(notes, Mapping) and isinstance(note := notes.get(source), str):
            return note
    return None


def run_views(runs: Sequence[SyncRun], now: datetime) -> list[RunView]:
    views = []
    for run in runs:
        s = run.summary
        parts = [
            f"{s[key]} {key}"
            for key in ("created", "changed", "removed", "held")
            if isinstance(s.get(key), int) and s[key]
        ]
        failed = s.get("scopes_failed")
        if isinstance(failed, int) and failed:
            parts.append(f"{failed} scope(s) failed")
        views.append(
            RunView(
                id=run.id,
                started=Moment.of(run.started_at, now),
                status=run.status,
                trigger=run.trigger,
                sources=", ".join(run.sources) or "-",
                summary=", ".join(parts) or "no change",
            )
        )
    return views
