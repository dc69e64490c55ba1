"""The job queue that replicas share on PostgreSQL: procrastinate.

Why procrastinate: it is a maintained, production-stable (PyPI "5 - Production/
Stable", regular releases) job queue that lives entirely in PostgreSQL — the
database trueup already requires for replicas, so there is nothing else to run —
and its semantics are the ones trueup needs, each a documented feature rather
than a protocol of ours:

- ``lock``: jobs with the same lock never run at once, on any replica. Every
  sync job of a source carries the source id as its lock, so no scope is synced
  by two replicas at once; a cluster watch carries ``watch:<source>/<context>``,
  so each watched cluster is held by exactly one replica.
- ``queueing_lock``: at most one waiting job per key, so a burst of webhooks for
  one repository folds into one refresh (the waiting job reads git afresh).
- deferring on an external connection: the job row is inserted in the webhook
  receiver's own transaction, with the delivery record, so a 2xx is only ever
  answered for a durably recorded job.
- worker heartbeats and ``get_stalled_jobs``: the jobs of a replica that died
  (SIGKILL, node lost) are found and retried on another one — its syncs run
  again, its cluster watches are taken over.
- periodic tasks deduplicated across workers: one replica runs each tick.

Alternatives weighed: Celery and RQ need a broker (Redis/RabbitMQ) beside
PostgreSQL; pgqueuer and saq are younger or Redis-first; a lease table of our
own is exactly what the SPEC rules out. Its schema (3.10.0) is applied by the
migration ``0003_serve``.

Sync jobs run on the ``trueup`` queue; cluster watches, which run for as long
as their replica lives, on ``trueup-watch`` with a worker of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

import procrastinate
from procrastinate import exceptions as queue_errors
from sqlalchemy.engine import URL, Connection

from trueup.config import Config
from trueup.pipeline import utc_now
from trueup.scheduler.jobs import Submitted, SyncJob
from trueup.scheduler.runner import JobRunner
from trueup.scheduler.ticker import refresh_shown_status, submit_due, watched_clusters
from trueup.scheduler.watches import ClusterHold
from trueup.store import Store

log = logging.getLogger(__name__)

SYNC_QUEUE = "trueup"
WATCH_QUEUE = "trueup-watch"
HEARTBEAT_SECONDS = 2.0
STALLED_SECONDS = 8.0  # no heartbeat for this long: the replica is gone
REFRESH_PRIORITY = 10  # webhook and API refreshes go before periodic syncs
_RUNTIME = "trueup"


def conninfo(url: URL) -> str:
    """A libpq connection string from the store's SQLAlchemy URL."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def build_app(connector: procrastinate.BaseConnector) -> procrastinate.App:
    """A procrastinate app with trueup's tasks (sync, tick, watch) on ``connector``.

    Workers use an asynchronous connector; submitting from a request thread, on
    that request's own connection, needs a synchronous one: two apps, same tasks.
    """
    app = procrastinate.App(connector=connector)

    @app.task(
        name="trueup.sync",
        queue=SYNC_QUEUE,
        pass_context=True,
        retry=procrastinate.RetryStrategy(max_attempts=5, exponential_wait=2),
    )
    async def sync_job(context: procrastinate.JobContext, /, **payload: Any) -> None:
        runtime: SharedWorker = context.additional_context[_RUNTIME]
        job = SyncJob.from_payload(payload)
        try:
            await asyncio.to_thread(runtime.runner.run, job)
        except Exception:
            if not job.periodic:
                raise  # a refresh is retried (RetryStrategy): its event must not be lost
            # A periodic sync is not retried here: its failure is in its schedule, and
            # the ticker runs it again after the back-off.
            log.exception("periodic sync of %s failed", job.target)

    @app.periodic(cron="* * * * * *")  # every second; one replica defers each tick
    @app.task(
        name="trueup.tick",
        queue=SYNC_QUEUE,
        lock="trueup-tick",
        queueing_lock="trueup-tick",
        pass_context=True,
    )
    async def tick(context: procrastinate.JobContext, timestamp: int) -> None:
        runtime: SharedWorker = context.additional_context[_RUNTIME]
        await runtime.tick()

    @app.task(name="trueup.watch", queue=WATCH_QUEUE, pass_context=True)
    async def watch(context: procrastinate.JobContext, source: str, cluster: str) -> None:
        runtime: SharedWorker = context.additional_context[_RUNTIME]
        await runtime.hold(source, cluster)

    return app


class SharedQueue:
    """Submits jobs to procrastinate inside the caller's SQLAlchemy transaction."""

    name = "procrastinate"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._deferrer = build_app(procrastinate.SyncPsycopgConnector(conninfo=dsn))

    def submit(self, conn: Connection, job: SyncJob, now: datetime) -> Submitted:
        driver = conn.connection.driver_connection  # the psycopg connection of this transaction
        options: dict[str, Any] = {"lock": job.source, "connection": driver}
        if not job.periodic:
            options["priority"] = REFRESH_PRIORITY
        if not job.accept_removals:
            kind = "schedule" if job.periodic else "refresh"
            options["queueing_lock"] = f"sync:{job.target}:{kind}"
        task = self._deferrer.tasks["trueup.sync"]
        try:
            with conn.begin_nested():  # a refused insert must not abort the caller's transaction
                job_id = task.configure(**options).defer(**job.payload())
        except queue_errors.AlreadyEnqueued:
            return Submitted(None, coalesced=True)
        return Submitted(job_id)


class SharedWorker:
    """This replica's workers: sync jobs, ticks, and the clusters it holds."""

    def __init__(
        self, config: Config, store: Store, queue: SharedQueue, runner: JobRunner, name: str
    ) -> None:
        self.config = config
        self.store = store
        self.queue = queue
        self.app = build_app(procrastinate.PsycopgConnector(conninfo=queue.dsn))
        self.runner = runner
        self.name = name
        self._stopping = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.app.open_async()
        options: dict[str, Any] = {
            "name": self.name,
            "install_signal_handlers": False,
            "shutdown_graceful_timeout": self.config.server.shutdown_timeout.total_seconds(),
            "update_heartbeat_interval": HEARTBEAT_SECONDS,
            "stalled_worker_timeout": STALLED_SECONDS,
            "delete_jobs": "successful",
            "additional_context": {_RUNTIME: self},
            "fetch_job_polling_interval": 0.5,
        }
        self._workers = [
            asyncio.create_task(
                self.app.run_worker_async(
                    queues=[SYNC_QUEUE], concurrency=self.config.server.concurrency, **options
                ),
                name="trueup sync worker",
            ),
            asyncio.create_task(
                self.app.run_worker_async(queues=[WATCH_QUEUE], concurrency=64, **options),
                name="trueup watch worker",
            ),
        ]

    async def stop(self) -> None:
        """Release held clusters, let running syncs finish (graceful timeout), close."""
        self._stopping.set()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        await self.app.close_async()

    async def tick(self) -> None:
        """Submit due syncs, start missing watches, retry a dead replica's jobs, freshness."""
        await asyncio.to_thread(submit_due, self.config, self.store, self.queue, utc_now())
        manager = self.app.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_SECONDS):
            log.warning("job %s of a replica that stopped answering is run again", job.id)
            await manager.retry_job(job)
        for source, context in await asyncio.to_thread(watched_clusters, self.config):
            key = f"watch:{source.id}/{context}"
            pending = [
                job
                for status in ("todo", "doing")
                for job in await manager.list_jobs_async(queueing_lock=key, status=status)
            ]
            if not pending:
                with contextlib.suppress(queue_errors.AlreadyEnqueued):
                    await (
                        self.app.tasks["trueup.watch"]
                        .configure(lock=key, queueing_lock=key)
                        .defer_async(source=source.id, cluster=context)
                    )
        await asyncio.to_thread(refresh_shown_status, self.config, self.store)

    async def hold(self, source_id: str, context: str) -> None:
        """Watch one cluster until this replica stops."""
        source = next(
            s for s, c in watched_clusters(self.config) if s.id == source_id and c == context
        )
        hold = ClusterHold(self.runner, source, context)
        await asyncio.to_thread(hold.start)
        log.info("replica %s holds cluster %s", self.name, hold.key)
        try:
            await self._stopping.wait()
        finally:
            await asyncio.to_thread(hold.stop)
