"""The Store: trueup's only door to the database (SQLite or PostgreSQL).

The pipeline calls :meth:`Store.start_run`, :meth:`Store.commit` and
:meth:`Store.finish_run`; the API, feed, dashboard and CLI read through the
query methods. :meth:`Store.commit` writes a whole sync result in one
transaction, so a reader sees the previous complete state or the new one, never
a mix (SPEC 5.6). Writers are serialised: ``BEGIN IMMEDIATE`` on SQLite, an
advisory transaction lock on PostgreSQL.

After an ambiguous failure (the connection dropped during ``COMMIT``), re-read:
:meth:`Store.runs` shows ``committed_at`` for a commit that landed, and calling
:meth:`Store.commit` again with the same input is a no-op when it did (no
duplicate revisions: the content hashes already match).
"""

from __future__ import annotations

from collections.abc import Collection, Generator, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy.engine import URL, Connection, Engine

from trueup.errors import ConcurrentCommitError, StoreError
from trueup.feed import FeedRow
from trueup.model.assembled import AssembledEntity, AssemblyResult, EntityScore
from trueup.model.finding import Finding, Severity
from trueup.model.observation import ScopeFailure, Snapshot
from trueup.model.ref import EntityRef
from trueup.store import snapshots as snapshot_rows
from trueup.store.engine import (
    WRITE,
    create_engine,
    parse_url,
    serialise_writers,
    translated,
)
from trueup.store.entities import write_entities
from trueup.store.operations import Operations
from trueup.store.overview import Overview
from trueup.store.pages import Pages
from trueup.store.records import (
    Change,
    CommitSummary,
    Revision,
    ScopeHealth,
    StoredEntity,
    SyncRun,
)
from trueup.store.schema import entities, findings, revisions, sync_runs

MIGRATIONS = Path(__file__).parent / "migrations"

_NO_HOLDS: Mapping[tuple[str, str], int] = MappingProxyType({})
_YIELD_PER = 1000


class Store:
    """Everything trueup keeps: snapshots, entities, history, findings, runs."""

    def __init__(self, engine: Engine, url: URL) -> None:
        """Use :meth:`open`."""
        self._engine = engine
        self._url = url

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect to ``url`` (a SQLAlchemy URL) and check that the database answers."""
        parsed = parse_url(url)
        engine = create_engine(parsed)
        try:
            with translated("connecting", parsed), engine.connect():
                pass
        except StoreError:
            engine.dispose()
            raise
        return cls(engine, parsed)

    def upgrade(self) -> None:
        """Apply the migrations shipped in the package (``alembic upgrade head``)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
        try:
            with translated("upgrading the schema", self._url), self._engine.connect() as conn:
                config.attributes["connection"] = conn.execution_options(**{WRITE: True})
                command.upgrade(config, "head")
        except CommandError as error:  # e.g. the database is at a revision this trueup lacks
            raise StoreError(f"cannot upgrade the schema: {error}") from error

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- writes ---------------------------------------------------------------

    def start_run(self, *, trigger: str, sources: Sequence[str], now: datetime) -> int:
        """Record a new sync run with status ``running``; returns its id."""
        with translated("starting a sync run", self._url), self._write() as conn:
            inserted = conn.execute(
                sa.insert(sync_runs)
                .values(
                    started_at=now,
                    status="running",
                    trigger=trigger,
                    sources=list(sources),
                    summary={},
                )
                .returning(sync_runs.c.id)
            )
            return int(inserted.scalar_one())

    def commit(
        self,
        run_id: int,
        reads: Sequence[Snapshot | ScopeFailure],
        result: AssemblyResult,
        *,
        now: datetime,
        cause: str,
        held: Mapping[tuple[str, str], int] = _NO_HOLDS,
        based_on: int | None = None,
    ) -> CommitSummary:
        """Store a sync result atomically: snapshots, scope health, entities, findings.

        A :class:`Snapshot` replaces its scope's snapshot; a :class:`ScopeFailure`
        only records the failure. ``held`` is the number of removals held back per
        (source, scope); a scope read successfully and absent from ``held`` has none.
        ``based_on`` is the :meth:`generation` the result was assembled from: if
        another commit landed since, :class:`ConcurrentCommitError` is raised and
        nothing is written (the caller assembles again from the new state).
        """
        with translated("commit", self._url), self._write() as conn:
            serialise_writers(conn)
            if based_on is not None and (landed := _generation(conn)) != based_on:
                raise ConcurrentCommitError(
                    f"sync run {landed} committed after this result was assembled "
                    f"from generation {based_on}"
                )
            marked = conn.execute(
                sa.update(sync_runs).where(sync_runs.c.id == run_id).values(committed_at=now)
            )
            if marked.rowcount != 1:
                raise StoreError(f"commit refers to sync run {run_id}, which does not exist")
            replaced, unchanged = snapshot_rows.write_reads(conn, run_id, reads, held)
            summary = write_entities(conn, run_id, result, now=now, cause=cause)
        return replace(summary, snapshots_replaced=replaced, snapshots_unchanged=unchanged)

    def generation(self) -> int:
        """The id of the last sync run whose commit landed (0 before any)."""
        with translated("reading the generation", self._url), self._read() as conn:
            return _generation(conn)

    def finish_run(
        self, run_id: int, *, status: str, now: datetime, summary: Mapping[str, Any]
    ) -> None:
        """Close a sync run with its final status and a JSON-serialisable summary."""
        with translated("finishing a sync run", self._url), self._write() as conn:
            updated = conn.execute(
                sa.update(sync_runs)
                .where(sync_runs.c.id == run_id)
                .values(finished_at=now, status=status, summary=dict(summary))
            )
            if updated.rowcount != 1:
                raise StoreError(f"sync run {run_id} does not exist")

    # -- reads ----------------------------------------------------------------

    def snapshots(self) -> dict[tuple[str, str], Snapshot]:
        """Every current snapshot, keyed (source, scope); observations in canonical order."""
        with translated("reading snapshots", self._url), self._read(consistent=True) as conn:
            return snapshot_rows.read_snapshots(conn)

    def entities(self, *, include_removed: bool = False) -> Generator[StoredEntity, None, None]:
        """Every current entity ordered by ref, streamed from the database.

        A consumer that stops early (a client that hangs up mid-feed) should
        ``close()`` the generator to give its connection back at once.
        """
        query = _entity_query().order_by(entities.c.kind, entities.c.namespace, entities.c.name)
        if not include_removed:
            query = query.where(entities.c.removed.is_(False))
        query = query.execution_options(yield_per=_YIELD_PER)
        # closing(): a consumer that stops early must not leave a server-side cursor open.
        with (
            translated("reading entities", self._url),
            self._read() as conn,
            closing(conn.execute(query)) as rows,
        ):
            for row in rows:
                yield _stored_entity(row)

    def feed_rows(self, *, kinds: frozenset[str] | None = None) -> Generator[FeedRow, None, None]:
        """Every emitted, current entity's feed text ordered by ref, streamed.

        Only the pre-rendered feed columns are read, so serving 100,000 entities
        costs no JSON decoding. ``kinds`` filters by lowercase kind.
        """
        query = (
            sa.select(
                entities.c.kind,
                entities.c.namespace,
                entities.c.name,
                entities.c.content_hash,
                entities.c.feed_yaml,
                entities.c.feed_json,
            )
            .where(entities.c.removed.is_(False), entities.c.feed_yaml.is_not(None))
            .order_by(entities.c.kind, entities.c.namespace, entities.c.name)
            .execution_options(yield_per=_YIELD_PER)
        )
        if kinds is not None:
            query = query.where(entities.c.kind.in_(sorted(kinds)))
        with (
            translated("reading the feed", self._url),
            self._read() as conn,
            closing(conn.execute(query)) as rows,
        ):
            for kind, namespace, name, content_hash, yaml_text, json_text in rows:
                yield FeedRow(EntityRef(kind, namespace, name), content_hash, yaml_text, json_text)

    def scores(self) -> list[EntityScore]:
        """Owner and quality score of every current entity, without decoding documents."""
        query = (
            sa.select(
                entities.c.kind,
                entities.c.namespace,
                entities.c.name,
                entities.c.owner,
                entities.c.score,
            )
            .where(entities.c.removed.is_(False))
            .order_by(entities.c.kind, entities.c.namespace, entities.c.name)
        )
        with translated("reading scores", self._url), self._read() as conn:
            return [
                EntityScore(EntityRef(kind, namespace, name), owner, score)
                for kind, namespace, name, owner, score in conn.execute(query)
            ]

    def entity(self, ref: EntityRef) -> StoredEntity | None:
        """One entity, removed ones included (``removed`` says so)."""
        query = _entity_query().where(*_matches(ref))
        with translated("reading an entity", self._url), self._read() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else _stored_entity(row)

    def revisions(self, ref: EntityRef) -> list[Revision]:
        """The history of one entity, oldest first."""
        query = (
            sa.select(revisions, entities.c.kind, entities.c.namespace, entities.c.name)
            .join(entities, entities.c.id == revisions.c.entity_id)
            .where(*_matches(ref))
            .order_by(revisions.c.number)
        )
        with translated("reading revisions", self._url), self._read() as conn:
            rows = conn.execute(query).all()
        return [
            Revision(
                ref=EntityRef(row.kind, row.namespace, row.name),
                number=row.number,
                at=row.at,
                run_id=row.run_id,
                cause=row.cause,
                change=Change(row.change),
                assembled=AssembledEntity.from_json(row.document) if row.document else None,
                content_hash=row.content_hash,
            )
            for row in rows
        ]

    def findings(self, *, codes: Collection[str] | None = None) -> list[Finding]:
        """The current findings, of entities and of files/scopes, by subject and code."""
        query = sa.select(findings).order_by(
            findings.c.subject, findings.c.code, findings.c.message, findings.c.id
        )
        if codes is not None:
            query = query.where(findings.c.code.in_(sorted(codes)))
        with translated("reading findings", self._url), self._read() as conn:
            rows = conn.execute(query).all()
        return [
            Finding(
                code=row.code,
                severity=Severity(row.severity),
                subject=row.subject,
                message=row.message,
                evidence=row.evidence,
            )
            for row in rows
        ]

    def scopes(self) -> list[ScopeHealth]:
        """The health of every scope ever read, by source and scope."""
        with translated("reading scope health", self._url), self._read() as conn:
            return snapshot_rows.read_health(conn)

    def runs(self, limit: int = 20) -> list[SyncRun]:
        """The latest sync runs, newest first."""
        query = sa.select(sync_runs).order_by(sync_runs.c.id.desc()).limit(limit)
        with translated("reading sync runs", self._url), self._read() as conn:
            rows = conn.execute(query).all()
        return [
            SyncRun(
                id=row.id,
                started_at=row.started_at,
                finished_at=row.finished_at,
                status=row.status,
                trigger=row.trigger,
                sources=tuple(row.sources),
                summary=row.summary,
                committed_at=row.committed_at,
            )
            for row in rows
        ]

    # -- the server's records and paginated reads -----------------------------

    def operations(self) -> Operations:
        """Webhook deliveries, the single-process job table and schedules."""
        return Operations(self._engine, self._url)

    def pages(self) -> Pages:
        """Filtered, keyset-paginated reads of entities and findings (the API's lists)."""
        return Pages(self._engine, self._url)

    def overview(self) -> Overview:
        """The dashboard's facets (kinds, owners) and the score history of every revision."""
        return Overview(self._engine, self._url)

    # -- connections ----------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A connection in a write transaction, committed when the block succeeds."""
        with self._engine.connect() as conn:
            conn.execution_options(**{WRITE: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self, *, consistent: bool = False) -> Iterator[Connection]:
        """A connection for reading. ``consistent``: several queries see one state
        (SQLite's read transaction already does; PostgreSQL needs REPEATABLE READ)."""
        with self._engine.connect() as conn:
            if consistent and conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn


def _entity_query() -> sa.Select[Any]:
    return sa.select(
        entities.c.kind,
        entities.c.namespace,
        entities.c.name,
        entities.c.document,
        entities.c.revision,
        entities.c.updated_at,
        entities.c.removed,
    )


def _matches(ref: EntityRef) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        entities.c.kind == ref.kind.lower(),
        entities.c.namespace == ref.namespace.lower(),
        entities.c.name == ref.name.lower(),
    )


def _stored_entity(row: sa.Row[Any]) -> StoredEntity:
    return StoredEntity(
        ref=EntityRef(row.kind, row.namespace, row.name),
        assembled=AssembledEntity.from_json(row.document),
        revision=row.revision,
        updated_at=row.updated_at,
        removed=row.removed,
    )


def _generation(conn: Connection) -> int:
    query = sa.select(sa.func.max(sync_runs.c.id)).where(sync_runs.c.committed_at.is_not(None))
    return int(conn.execute(query).scalar() or 0)
