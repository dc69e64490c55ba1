"""The server's own records: webhook deliveries, the single-process job table, schedules.

Called by :mod:`trueup.web.webhooks` (a delivery and its job are written in one
transaction, so a 2xx is only ever answered for a job that is durably recorded)
and by :mod:`trueup.scheduler`. Get one with :meth:`trueup.store.Store.operations`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import URL, Connection, Engine

from trueup.store.engine import WRITE, translated
from trueup.store.schema import jobs, length_of, schedules, webhook_deliveries

TODO, DOING, DONE, FAILED = "todo", "doing", "done", "failed"


def _delivery_key(delivery_id: str) -> str:
    """The delivery id as recorded: one longer than the column (a sender's header) keeps
    its start and ends with the sha256 of the whole, so distinct ids stay distinct."""
    limit = length_of(webhook_deliveries.c.delivery_id)
    if limit is None or len(delivery_id) <= limit:
        return delivery_id
    digest = hashlib.sha256(delivery_id.encode()).hexdigest()
    return f"{delivery_id[: limit - len(digest) - 8]}…sha256:{digest}"


@dataclass(frozen=True, slots=True)
class LocalJob:
    """A row of the single-process job table."""

    id: int
    kind: str
    target: str
    payload: Mapping[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """A webhook delivery as recorded (``delivery_id`` is ``provider:id``)."""

    delivery_id: str
    received_at: datetime
    provider: str
    event: str
    status: str  # queued, ignored


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a source is next due, and how many of its last runs failed in a row."""

    source: str
    last_started_at: datetime | None
    last_finished_at: datetime | None
    failures: int
    next_due_at: datetime | None


class Operations:
    """Deliveries, jobs and schedules on the store's database."""

    def __init__(self, engine: Engine, url: URL) -> None:
        self._engine = engine
        self._url = url

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction, committed when the block succeeds (errors as StoreError)."""
        with (
            translated("writing operations", self._url),
            self._engine.connect() as conn,
        ):
            conn.execution_options(**{WRITE: True})
            with conn.begin():
                yield conn

    # -- webhook deliveries ---------------------------------------------------

    @staticmethod
    def delivery_status(conn: Connection, delivery_id: str) -> str | None:
        """The status of a delivery seen before, or None."""
        query = sa.select(webhook_deliveries.c.status).where(
            webhook_deliveries.c.delivery_id == _delivery_key(delivery_id)
        )
        return conn.execute(query).scalar_one_or_none()

    @staticmethod
    def record_delivery(
        conn: Connection, delivery_id: str, *, source: str, event: str, status: str, now: datetime
    ) -> bool:
        """Remember a delivery; False if it was already there (a replay won the race)."""
        try:
            with conn.begin_nested():
                conn.execute(
                    sa.insert(webhook_deliveries).values(
                        delivery_id=_delivery_key(delivery_id),
                        received_at=now,
                        source=source,
                        event=event[:255],
                        status=status,
                    )
                )
        except exc.IntegrityError:
            return False
        return True

    def deliveries(self, limit: int = 100) -> list[Delivery]:
        """The latest deliveries, newest first."""
        query = sa.select(webhook_deliveries).order_by(webhook_deliveries.c.id.desc()).limit(limit)
        with translated("reading deliveries", self._url), self._engine.connect() as conn:
            return [
                Delivery(row.delivery_id, row.received_at, row.source, row.event, row.status)
                for row in conn.execute(query)
            ]

    # -- the single-process job table -----------------------------------------

    @staticmethod
    def waiting_job(conn: Connection, kind: str, target: str) -> int | None:
        """The id of a job of this kind and target that has not started yet."""
        query = sa.select(jobs.c.id).where(
            jobs.c.kind == kind, jobs.c.target == target, jobs.c.state == TODO
        )
        return conn.execute(query.limit(1)).scalar_one_or_none()

    @staticmethod
    def add_job(
        conn: Connection, kind: str, target: str, payload: Mapping[str, Any], now: datetime
    ) -> int:
        inserted = conn.execute(
            sa.insert(jobs)
            .values(kind=kind, target=target, payload=dict(payload), state=TODO, created_at=now)
            .returning(jobs.c.id)
        )
        return int(inserted.scalar_one())

    def claim_job(self, now: datetime, busy: frozenset[str]) -> LocalJob | None:
        """The oldest waiting job whose source is not ``busy``, marked doing; refreshes
        (kind ``refresh``) go before periodic syncs.

        The query itself passes over the jobs of busy sources: a burst of them (a push
        to each repository of an organisation while it syncs) must not hide a job of
        another source behind them.
        """
        held = [
            sa.or_(jobs.c.target == source, jobs.c.target.startswith(f"{source}/", autoescape=True))
            for source in sorted(busy)
        ]
        refresh_first = sa.case((jobs.c.kind == "refresh", 0), else_=1)
        query = (
            sa.select(jobs)
            .where(jobs.c.state == TODO, *(sa.not_(clause) for clause in held))
            .order_by(refresh_first, jobs.c.id)
            .limit(1)
        )
        with self.transaction() as conn:
            row = conn.execute(query).one_or_none()
            if row is None:
                return None
            conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == row.id)
                .values(state=DOING, started_at=now, attempts=row.attempts + 1)
            )
            return LocalJob(row.id, row.kind, row.target, row.payload, row.attempts + 1)

    def finish_job(self, job_id: int, *, ok: bool, now: datetime, error: str | None) -> None:
        with self.transaction() as conn:
            conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == job_id)
                .values(state=DONE if ok else FAILED, finished_at=now, error=error)
            )

    def requeue_interrupted(self) -> int:
        """Jobs left ``doing`` by a process that died go back to ``todo``; returns how many.

        Only the single-process server calls this, at start-up, before its worker
        runs: no other process can be working on them.
        """
        with self.transaction() as conn:
            updated = conn.execute(
                sa.update(jobs).where(jobs.c.state == DOING).values(state=TODO, started_at=None)
            )
            return int(updated.rowcount)

    def job_states(self) -> dict[str, int]:
        """How many jobs are in each state."""
        query = sa.select(jobs.c.state, sa.func.count()).group_by(jobs.c.state)
        with translated("reading jobs", self._url), self._engine.connect() as conn:
            return {state: int(count) for state, count in conn.execute(query)}

    # -- schedules --------------------------------------------------------------

    def schedules(self) -> dict[str, Schedule]:
        with translated("reading schedules", self._url), self._engine.connect() as conn:
            return {
                row.source: Schedule(**row._mapping) for row in conn.execute(sa.select(schedules))
            }

    def schedule_started(self, source: str, now: datetime) -> None:
        self._upsert(source, last_started_at=now)

    def schedule_finished(
        self, source: str, *, now: datetime, failed: bool, next_due_at: datetime
    ) -> None:
        with self.transaction() as conn:
            current = conn.execute(
                sa.select(schedules.c.failures).where(schedules.c.source == source)
            ).scalar_one_or_none()
            failures = (current or 0) + 1 if failed else 0
            self._write(
                conn, source, last_finished_at=now, failures=failures, next_due_at=next_due_at
            )

    def _upsert(self, source: str, **values: Any) -> None:
        with self.transaction() as conn:
            self._write(conn, source, **values)

    @staticmethod
    def _write(conn: Connection, source: str, **values: Any) -> None:
        updated = conn.execute(
            sa.update(schedules).where(schedules.c.source == source).values(**values)
        )
        if updated.rowcount == 0:
            conn.execute(sa.insert(schedules).values(source=source, **values))
