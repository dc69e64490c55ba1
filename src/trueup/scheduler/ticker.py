"""What is due now: the periodic syncs, the freshness re-assembly, the clusters to watch.

One tick at a time across all replicas (with PostgreSQL the tick is a
procrastinate periodic job with a lock; with SQLite one loop). A source is due
when its schedule's ``next_due_at`` has passed; submitting its job moves
``next_due_at`` one interval on in the same transaction, so no later tick
submits it again, and the run itself sets the real next time when it ends
(:mod:`trueup.scheduler.timing`). A stored time that the configured interval
could not have set (the interval was lowered in ``trueup.yaml`` since) is pulled
in by the first tick of a server started on the new configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

import sqlalchemy as sa

from trueup.config import Config
from trueup.config_model import SourceConfig
from trueup.pipeline import refresh_freshness
from trueup.scheduler.jobs import JobQueue, SyncJob
from trueup.scheduler.targets import is_watched
from trueup.store import Store
from trueup.store.operations import Schedule
from trueup.store.schema import schedules

log = logging.getLogger(__name__)


def due_sources(
    config: Config,
    known: Mapping[str, Schedule],
    now: datetime,
    last_read: Mapping[str, datetime] | None = None,
) -> list[str]:
    """The ids of the polled sources whose next sync is due at ``now`` (pure).

    A source without a schedule yet (a server's first start) is due one
    interval after its last successful read (``last_read``), or now if it was
    never read: a restart does not re-sync a world that was synced a minute ago.
    """
    due = []
    for source in config.sources:
        if is_watched(config, source.id):
            continue
        schedule = known.get(source.id)
        if schedule is not None and schedule.next_due_at is not None:
            when = schedule.next_due_at
        elif (read := (last_read or {}).get(source.id)) is not None:
            when = read + source.interval
        else:
            when = now
        if when <= now:
            due.append(source.id)
    return due


def pulled_in(config: Config, known: Mapping[str, Schedule], now: datetime) -> dict[str, datetime]:
    """The polled sources whose stored next-due time is later than their interval
    allows, each with the time it is due instead (pure).

    A run sets its next time at most one interval and its jitter after it started
    (:func:`~trueup.scheduler.timing.next_due`), so a time later than that after
    ``now`` was set under a longer interval. It moves to one interval (the new one)
    after the source's last run started: now, if that has passed; ``now`` plus the
    interval if it never ran.
    """
    pulled = {}
    for source in config.sources:
        schedule = known.get(source.id)
        if schedule is None or schedule.next_due_at is None or is_watched(config, source.id):
            continue
        if schedule.next_due_at <= _latest(config, source.id, now):
            continue
        started = schedule.last_started_at or now
        pulled[source.id] = min(max(started + source.interval, now), now + source.interval)
    return pulled


def watched_clusters(config: Config) -> list[tuple[SourceConfig, str]]:
    """Every (watched source, scope) the server keeps under a watch (a live cluster)."""
    clusters = []
    for source in config.sources:
        if not is_watched(config, source.id):
            continue
        for scope, problem in source.watched_scopes():
            clusters.append((source, scope))
            if problem is not None:
                log.warning("%s %s/%s: %s", source.type, source.id, scope, problem)
    return clusters


def submit_due(config: Config, store: Store, queue: JobQueue, now: datetime) -> list[SyncJob]:
    """Submit a periodic job for every due source; returns them."""
    operations = store.operations()
    known = operations.schedules()
    pulled = pulled_in(config, known, now)
    known = {**known, **{s: replace(known[s], next_due_at=when) for s, when in pulled.items()}}
    last_read: dict[str, datetime] = {}
    if any(source.id not in known for source in config.sources):
        for health in store.scopes():  # the oldest last success of each source's scopes
            if (success := health.last_success_at) is not None:
                last_read[health.source] = min(last_read.get(health.source, success), success)
    due = due_sources(config, known, now, last_read)
    if not due and not pulled:
        return []
    submitted = []
    with operations.transaction() as conn:
        for source_id, when in pulled.items():
            log.info("source %s: its interval is shorter now; next sync at %s", source_id, when)
            _pull_in(conn, source_id, when, later_than=_latest(config, source_id, now))
        for source_id in due:
            job = SyncJob(source_id)
            queue.submit(conn, job, now)
            _provisional(conn, source_id, now + config.source(source_id).interval)
            submitted.append(job)
    return submitted


def refresh_shown_status(config: Config, store: Store) -> None:
    """Re-assemble when shown status has turned stale since the last sync (SPEC 5.3)."""
    refresh_freshness(config, store)


def _provisional(conn: sa.Connection, source_id: str, due: datetime) -> None:
    updated = conn.execute(
        sa.update(schedules).where(schedules.c.source == source_id).values(next_due_at=due)
    )
    if updated.rowcount == 0:
        conn.execute(sa.insert(schedules).values(source=source_id, next_due_at=due))


def _pull_in(conn: sa.Connection, source_id: str, due: datetime, later_than: datetime) -> None:
    # Only a time still too late: a run that ended meanwhile has set a current one.
    conn.execute(
        sa.update(schedules)
        .where(schedules.c.source == source_id, schedules.c.next_due_at > later_than)
        .values(next_due_at=due)
    )


def _latest(config: Config, source_id: str, now: datetime) -> datetime:
    """The latest next-due time a run starting ``now`` may set: one interval and its jitter on."""
    return now + config.source(source_id).interval * (1 + config.server.jitter)
