"""The single-process job queue (SQLite): jobs in the ``jobs`` table, one worker loop.

With SQLite one ``trueup serve`` process does everything, so this queue needs
no claiming protocol: the worker loop is the only consumer, and at start-up it
puts back any job a killed predecessor left half-done (its sync either committed
or rolled back as a whole). :class:`LocalQueue` is the submitting side, used
inside the caller's transaction; :class:`LocalWorker` runs the jobs, the ticks
and the cluster watches. A refresh (a webhook's or the API's) whose sync fails
(the store busy or full) is tried again after a back-off, as the shared queue
does; a periodic sync is not: its schedule backs off instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trueup.config import Config
from trueup.errors import StoreError
from trueup.pipeline import utc_now
from trueup.scheduler.jobs import REFRESH, SYNC, Submitted, SyncJob
from trueup.scheduler.runner import JobRunner
from trueup.scheduler.ticker import refresh_shown_status, submit_due, watched_clusters
from trueup.scheduler.watches import ClusterHold
from trueup.store import Store
from trueup.store.operations import TODO, LocalJob, Operations
from trueup.store.schema import jobs

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
POLL_SECONDS = 0.25
FINISH_ATTEMPTS = 8
REFRESH_ATTEMPTS = 5  # as the shared queue's retry strategy
REFRESH_BACKOFF = 2.0  # seconds before the second attempt, doubling


class LocalQueue:
    """Submits jobs to the ``jobs`` table."""

    name = "local"

    def __init__(self) -> None:
        self.wake = threading.Event()

    def submit(self, conn: Connection, job: SyncJob, now: datetime) -> Submitted:
        kind = SYNC if job.periodic else REFRESH
        if (
            not job.accept_removals
            and (waiting := Operations.waiting_job(conn, kind, job.target)) is not None
        ):
            return Submitted(waiting, coalesced=True)
        job_id = Operations.add_job(conn, kind, job.target, job.payload(), now)
        self.wake.set()
        return Submitted(job_id)


class LocalWorker:
    """Runs the local queue's jobs, the ticks and every cluster watch in this process."""

    def __init__(self, config: Config, store: Store, queue: LocalQueue, runner: JobRunner) -> None:
        self.config = config
        self.store = store
        self.queue = queue
        self.runner = runner
        self.holds: list[ClusterHold] = []
        self._running: dict[str, asyncio.Task[None]] = {}
        self._stopping = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        requeued = await asyncio.to_thread(self.store.operations().requeue_interrupted)
        if requeued:
            log.warning("%d job(s) interrupted by the previous process are queued again", requeued)
        for source, context in await asyncio.to_thread(watched_clusters, self.config):
            hold = ClusterHold(self.runner, source, context)
            await asyncio.to_thread(hold.start)
            self.holds.append(hold)
        self._loops = [
            asyncio.create_task(self._tick_loop(), name="trueup ticks"),
            asyncio.create_task(self._job_loop(), name="trueup jobs"),
        ]

    async def stop(self) -> None:
        """Take no new work; let running syncs finish (up to the shutdown timeout)."""
        self._stopping.set()
        self.queue.wake.set()
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        timeout = self.config.server.shutdown_timeout.total_seconds()
        if self._running:
            await asyncio.wait(list(self._running.values()), timeout=timeout)
        for hold in self.holds:
            await asyncio.to_thread(hold.stop)

    async def _tick_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                now = utc_now()
                await asyncio.to_thread(submit_due, self.config, self.store, self.queue, now)
                await asyncio.to_thread(refresh_shown_status, self.config, self.store)
            except Exception:
                log.exception("scheduler tick failed; trying again")
            await asyncio.sleep(TICK_SECONDS)

    async def _job_loop(self) -> None:
        concurrency = self.config.server.concurrency
        while not self._stopping.is_set():
            job = None
            if len(self._running) < concurrency:
                busy = frozenset(self._running)
                try:
                    job = await asyncio.to_thread(
                        self.store.operations().claim_job, utc_now(), busy
                    )
                except StoreError as exc:  # e.g. SQLite busy past its timeout: a long commit
                    log.warning("cannot claim a job now (%s); trying again", exc)
                    await asyncio.sleep(POLL_SECONDS)
                    continue
            if job is None:
                self.queue.wake.clear()
                await asyncio.to_thread(self.queue.wake.wait, POLL_SECONDS)
                continue
            source = job.target.split("/", 1)[0]
            task = asyncio.create_task(self._run(job), name=f"job {job.id}")
            self._running[source] = task
            task.add_done_callback(self._finished(source))

    def _finished(self, source: str) -> Callable[[asyncio.Task[None]], None]:
        def forget(_task: asyncio.Task[None]) -> None:
            self._running.pop(source, None)

        return forget

    async def _run(self, job: LocalJob) -> None:
        # Not cancelled at shutdown: a sync runs to its commit (or its rollback).
        error = None
        sync_job = SyncJob.from_payload(job.payload)
        try:
            await asyncio.shield(asyncio.to_thread(self.runner.run, sync_job))
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.exception("job %s (%s) failed", job.id, job.target)
        again = error is not None and not sync_job.periodic and job.attempts < REFRESH_ATTEMPTS
        if again:  # its source stays busy meanwhile; a stop puts it back at once
            with contextlib.suppress(TimeoutError):
                delay = REFRESH_BACKOFF * 2 ** (job.attempts - 1)
                await asyncio.wait_for(self._stopping.wait(), delay)
        for attempt in range(FINISH_ATTEMPTS):
            try:
                if again:
                    await asyncio.to_thread(self._again, job.id, error)
                    log.warning("job %s (%s) is queued again", job.id, job.target)
                    self.queue.wake.set()
                    return
                await asyncio.to_thread(
                    self.store.operations().finish_job,
                    job.id,
                    ok=error is None,
                    now=utc_now(),
                    error=error,
                )
                return
            except StoreError as exc:
                log.warning("job %s: cannot record its end yet (%s)", job.id, exc)
                await asyncio.sleep(min(5.0, 0.5 * 2**attempt))
        log.error("job %s: its end is not recorded; it runs again at the next start", job.id)

    def _again(self, job_id: int, error: str | None) -> None:
        """Put a failed refresh back in the queue (its attempts are counted by each claim)."""
        with self.store.operations().transaction() as conn:
            conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == job_id)
                .values(state=TODO, started_at=None, error=error)
            )
