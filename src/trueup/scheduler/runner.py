"""Running one job: a :func:`trueup.pipeline.sync` of the source or scope it names.

Called by both job queues' workers, on a worker thread (the pipeline blocks).
Periodic runs record when they started and when the source is next due
(:mod:`trueup.scheduler.timing`); every run feeds the metrics. A watched
Kubernetes cluster held by this process is synced from its watch, never read
again (:mod:`trueup.scheduler.watches`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from trueup.config import Config
from trueup.crashpoint import SYNC_READ, crashpoint
from trueup.metrics import Metrics
from trueup.model.observation import ScopeRead
from trueup.pipeline import SyncOutcome, selected_sources, sync, utc_now
from trueup.scheduler.jobs import SyncJob
from trueup.scheduler.timing import next_due
from trueup.server_config import ServerConfig
from trueup.sources.base import Source
from trueup.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class RunReport:
    """What a job did, for logs and the job record."""

    run_id: int
    outcome: str  # ok, partial
    created: int
    changed: int
    removed: int


class JobRunner:
    """Runs sync jobs against one configuration and store; safe to call from several threads."""

    def __init__(
        self,
        config: Config,
        store: Store,
        metrics: Metrics,
        *,
        now: Clock = utc_now,
        worker: str = "trueup",
    ) -> None:
        self.config = config
        self.store = store
        self.metrics = metrics
        self.now = now
        self.worker = worker
        self._watched: dict[tuple[str, str], Source] = {}
        self._lock = threading.Lock()

    @property
    def server(self) -> ServerConfig:
        return self.config.server

    def hold(self, source: str, scope: str, reader: Source) -> None:
        """Sync ``source/scope`` from ``reader`` (its watch) while this process holds it."""
        with self._lock:
            self._watched[(source, scope)] = reader

    def release(self, source: str, scope: str) -> None:
        with self._lock:
            self._watched.pop((source, scope), None)

    def run(self, job: SyncJob) -> RunReport:
        """Sync what ``job`` names; raises only when the store fails (the job is retried)."""
        started = self.now()
        operations = self.store.operations()
        if job.periodic:
            operations.schedule_started(job.source, started)
        sources = self._sources(job)
        clock = time.monotonic()
        outcome_label = "error"
        failed = True
        try:
            outcome = sync(
                self.config,
                self.store,
                only=[job.source],
                scopes=[job.scope] if job.scope else (),
                accept_removals=job.accept_removals,
                now=self.now,
                progress=_progress,
                trigger=f"{job.trigger} on {self.worker}",
                sources=sources,
            )
            failed = bool(outcome.failures)
            outcome_label = "partial" if outcome.exit_code else "ok"
            self.metrics.observe_steps(job.source, outcome.timings.to_json())
            self._note_budget(sources)
            return _report(outcome, outcome_label)
        finally:
            self.metrics.sync_seconds.labels(job.source, _trigger_kind(job.trigger)).observe(
                time.monotonic() - clock
            )
            self.metrics.syncs.labels(job.source, outcome_label).inc()
            if job.periodic:
                self._schedule_next(job.source, started, failed)

    def _sources(self, job: SyncJob) -> Sequence[Source]:
        """The watch of the scope ``job`` names, when this process holds it; else the
        source itself (a whole watched source is read directly: a watch holds one scope)."""
        with self._lock:
            held = self._watched.get((job.source, job.scope)) if job.scope else None
        if held is not None:
            return [held]
        return selected_sources(self.config, [job.source])

    def _schedule_next(self, source_id: str, started: datetime, failed: bool) -> None:
        operations = self.store.operations()
        failures = operations.schedules().get(source_id)
        count = (failures.failures if failures else 0) + 1 if failed else 0
        due = next_due(
            started,
            self.config.source(source_id).interval,
            failures=count,
            backoff=self.server.backoff,
            jitter=self.server.jitter,
        )
        operations.schedule_finished(source_id, now=self.now(), failed=failed, next_due_at=due)

    def _note_budget(self, sources: Sequence[Source]) -> None:
        for source in sources:
            budget = getattr(source, "rate_limit", None)
            remaining = getattr(budget, "remaining", None)
            limit = getattr(budget, "limit", None)
            if isinstance(remaining, int):
                self.metrics.github_remaining.labels(source.id).set(remaining)
            if isinstance(limit, int):
                self.metrics.github_limit.labels(source.id).set(limit)


def _progress(source: str, read: ScopeRead) -> None:
    """Called after each scope is read, before anything is committed: a crash here loses
    nothing (the tests kill the process at this point)."""
    crashpoint(SYNC_READ)


def _trigger_kind(trigger: str) -> str:
    return trigger.split(" ", 1)[0]


def _report(outcome: SyncOutcome, label: str) -> RunReport:
    summary = outcome.summary
    return RunReport(
        run_id=outcome.run_id,
        outcome=label,
        created=summary.created if summary else 0,
        changed=summary.changed if summary else 0,
        removed=summary.removed if summary else 0,
    )
