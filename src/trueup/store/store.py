"""The Store: trueup's only door to the database (SQLite or PostgreSQL).

The pipeline calls :meth:`Store.start_run`, :meth:`Store.commit_reads` (the
incremental engine, :mod:`trueup.store.incremental`) or :meth:`Store.commit`
(a result assembled from scratch) and :meth:`Store.finish_run`; sources read
against :meth:`Store.previous_snapshots`; the API, feed, dashboard and CLI read
through the query methods. A commit writes a whole sync result in one
transaction, so a reader sees the previous complete state or the new one, never
a mix (SPEC 5.6). Writers are serialised: ``BEGIN IMMEDIATE`` on SQLite, an
advisory transaction lock on PostgreSQL. A write that SQLite refuses because
another writer holds the database is tried again for up to ``lock_timeout``
(:func:`~trueup.store.engine.retry_while_locked`); a run left ``running`` by a
killed process is marked ``interrupted`` by the next :meth:`Store.start_run`.

After an ambiguous failure (the connection dropped during ``COMMIT``), re-read:
:meth:`Store.runs` shows ``committed_at`` for a commit that landed, and calling
:meth:`Store.commit` again with the same input is a no-op when it did (no
duplicate revisions: the content hashes already match).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Generator, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, nullcontext
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from trueup.errors import StoreError
from trueup.feed import FeedRow
from trueup.model.assembled import AssemblyResult, EntityScore
from trueup.model.finding import Finding, Severity
from trueup.model.observation import ScopeFailure, Snapshot
from trueup.model.ref import EntityRef
from trueup.store import snapshots as snapshot_rows
from trueup.store.checkpoint import Checkpoints
from trueup.store.engine import (
    BULK_ROWS,
    BUSY_TIMEOUT,
    WRITE,
    bulk_cache,
    create_engine,
    parse_url,
    retry_while_locked,
    translated,
)
from trueup.store.entities import by_ref_keys, entity_query, matching, stored_entity, write_entities
from trueup.store.generation import begin_commit, end_commit, feed_generation, generation
from trueup.store.history import history
from trueup.store.incremental import (
    CommitRequest,
    CommitResult,
    apply_reads,
    commit_reads,
    forget_assembly,
)
from trueup.store.operations import Operations
from trueup.store.overview import Overview
from trueup.store.pages import Pages
from trueup.store.records import (
    CommitSummary,
    Revision,
    ScopeHealth,
    StoredEntity,
    SyncRun,
)
from trueup.store.run_owner import (
    hold_run_lock,
    mark_interrupted,
    release_run_lock,
    this_process,
)
from trueup.store.schema import bytewise, clipped, entities, findings, sync_runs

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration shipped (``alembic heads``): a database already there is not
# upgraded, and Alembic is not even imported (a tenth of a second of every command).
# tests/store/test_migrations.py checks that this is the one head of MIGRATIONS.
SCHEMA_HEAD = "0011_lz4_documents"

LOCK_TIMEOUT = 600.0  # seconds a write waits for another writer before it fails
T = TypeVar("T")
_NO_HOLDS: Mapping[tuple[str, str], int] = MappingProxyType({})
_YIELD_PER = 1000


class Store:
    """Everything trueup keeps: snapshots, entities, history, findings, runs."""

    def __init__(self, engine: Engine, url: URL, lock_timeout: float = LOCK_TIMEOUT) -> None:
        """Use :meth:`open`."""
        self._engine = engine
        self._url = url
        self._lock_timeout = lock_timeout
        self._run_locks: dict[int, Connection] = {}  # PostgreSQL: live runs' session locks
        self._lock_engine: Engine | None = None
        self._checkpoints = Checkpoints(engine)

    @classmethod
    def open(cls, url: str, *, lock_timeout: float = LOCK_TIMEOUT) -> Store:
        """Connect to ``url`` (a SQLAlchemy URL) and check that the database answers.

        ``lock_timeout``: how long a write waits for another writer (SQLite) before
        failing with :class:`~trueup.errors.StoreLockedError`.
        """
        parsed = parse_url(url)
        engine = create_engine(parsed, busy_timeout=min(BUSY_TIMEOUT, lock_timeout))
        try:
            with translated("connecting", parsed), engine.connect():
                pass
        except StoreError:
            engine.dispose()
            raise
        return cls(engine, parsed, lock_timeout)

    def upgrade(self) -> None:
        """Apply the migrations shipped in the package (``alembic upgrade head``)."""
        if self.schema_version() == {SCHEMA_HEAD}:
            return  # up to date: no write lock taken (syncs starting together)
        from alembic import command  # imported here: only upgrades need Alembic
        from alembic.config import Config
        from alembic.migration import MigrationContext
        from alembic.script import ScriptDirectory
        from alembic.util.exc import CommandError

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))

        def attempt() -> None:
            with self._engine.connect() as conn:
                config.attributes["connection"] = conn.execution_options(**{WRITE: True})
                command.upgrade(config, "head")

        heads = set(ScriptDirectory.from_config(config).get_heads())
        with translated("reading the schema version", self._url), self._read() as conn:
            if set(MigrationContext.configure(conn).get_current_heads()) == heads:
                return  # up to date: no write lock taken (syncs starting together)
        try:
            with translated("upgrading the schema", self._url):
                self._retrying("upgrading the schema", attempt)
        except CommandError as error:  # e.g. the database is at a revision this trueup lacks
            raise StoreError(f"cannot upgrade the schema: {error}") from error

    def schema_version(self) -> set[str]:
        """The migrations the database is at (``alembic current``); empty when it has none."""
        version = sa.table("alembic_version", sa.column("version_num", sa.String))
        with translated("reading the schema version", self._url), self._read() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return set()
            return {str(row) for row in conn.execute(sa.select(version.c.version_num)).scalars()}

    def close(self) -> None:
        for run_id in list(self._run_locks):
            self._release_run(run_id)
        if self._lock_engine is not None:
            self._lock_engine.dispose()
        self._checkpoints.wait()
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
        """Record a new sync run with status ``running``; returns its id.

        Runs left ``running`` by a process that is gone are marked ``interrupted``
        first (:mod:`trueup.store.run_owner` says how that is decided).
        """
        owner = this_process()

        def attempt() -> int:
            with self._write() as conn:
                mark_interrupted(conn, now)
                inserted = conn.execute(
                    sa.insert(sync_runs)
                    .values(
                        started_at=now,
                        status="running",
                        trigger=clipped(trigger, sync_runs.c.trigger),
                        sources=list(sources),
                        summary={},
                        owner_host=owner.host,
                        owner_pid=owner.pid,
                        owner_started=owner.started,
                    )
                    .returning(sync_runs.c.id)
                )
                run_id = int(inserted.scalar_one())
                if conn.dialect.name == "postgresql":  # held before the row is visible
                    self._hold_run(run_id)
                return run_id

        with translated("starting a sync run", self._url):
            return self._retrying("starting a sync run", attempt)

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
        max_age: Mapping[str, timedelta | None] | None = None,
    ) -> CommitSummary:
        """Store a sync result atomically: snapshots, scope health, entities, findings.

        A :class:`Snapshot` replaces its scope's snapshot; a :class:`ScopeFailure`
        only records the failure. ``held`` is the number of removals held back per
        (source, scope); a scope read successfully and absent from ``held`` has none.
        ``based_on`` is the :meth:`generation` the result was assembled from: if
        another commit landed since, :class:`ConcurrentCommitError` is raised and
        nothing is written (the caller assembles again from the new state).
        ``max_age`` (by source) records each entity's freshness schedule.
        """

        def attempt() -> CommitSummary:
            with self._write(large=True, rows=_observed(reads)) as conn:
                begin_commit(conn, run_id, now, based_on)
                keys = {(r.source, r.scope) for r in reads} | set(held)
                ids = snapshot_rows.scope_ids(conn, keys)
                applied = apply_reads(
                    conn,
                    run_id,
                    reads,
                    scope_ids=ids,
                    accepted=None,
                    max_ratio=1.0,
                    carried_held={},
                )
                snapshot_rows.write_health(conn, ids, reads, held, applied.superseded)
                summary = write_entities(
                    conn, run_id, result, now=now, cause=cause, max_age=max_age
                )
                forget_assembly(conn)
                end_commit(conn, run_id, summary)
            return replace(
                summary, snapshots_replaced=applied.replaced, snapshots_unchanged=applied.unchanged
            )

        with translated("commit", self._url):
            return self._retrying("commit", attempt)

    def commit_reads(
        self,
        run_id: int,
        reads: Sequence[Snapshot | ScopeFailure],
        request: CommitRequest,
        *,
        cause: str,
        based_on: int | None = None,
    ) -> CommitResult:
        """Store a sync's reads and assemble, in the same transaction, what they changed.

        The removal guard runs here, on the stored rows (``request.accepted`` and
        ``max_ratio``). ``based_on`` as in :meth:`commit`. A read that keeps parts
        whose stored fingerprints changed meanwhile is not applied
        (``CommitResult.superseded``).
        """

        def attempt() -> CommitResult:
            with self._write(large=True, rows=_observed(reads)) as conn:
                begin_commit(conn, run_id, request.now, based_on)
                keys = {(r.source, r.scope) for r in reads} | set(request.carried_held)
                ids = snapshot_rows.scope_ids(conn, keys)
                result = commit_reads(conn, run_id, reads, request, scope_ids=ids, cause=cause)
                counts = {key: len(refs) for key, refs in result.held.items()}
                snapshot_rows.write_health(conn, ids, reads, counts, result.superseded)
                end_commit(conn, run_id, result.summary)
            return result

        with translated("commit", self._url):
            return self._retrying("commit", attempt)

    def previous_snapshots(self) -> dict[tuple[str, str], Snapshot]:
        """The current snapshots as sources read against them: observations load on first use.

        A source that splits its scope into parts reads ``Snapshot.parts`` (the
        fingerprints) and asks ``Snapshot.stored`` for the parts it needs.
        """
        with translated("reading snapshots", self._url), self._read() as conn:
            return snapshot_rows.previous_snapshots(conn, self._reader)

    @contextmanager
    def _reader(self) -> Iterator[Connection]:
        with translated("reading a snapshot", self._url), self._read() as conn:
            yield conn

    def generation(self) -> int:
        """How many commits have landed: every commit moves it, whichever run made it.

        0 before any. Runs overlap, so the run that commits last need not have the
        highest id; each commit is numbered in its own transaction, one more than the
        last (``sync_runs.commit_number``). After the upgrade that introduced it the
        count starts above the highest committed run id, the generation before.
        """
        with translated("reading the generation", self._url), self._read() as conn:
            return generation(conn)

    def feed_generation(self) -> int:
        """The last commit that wrote an entity row (the feed's ETag; see :mod:`.generation`)."""
        with translated("reading the generation", self._url), self._read() as conn:
            return feed_generation(conn)

    def finish_run(
        self, run_id: int, *, status: str, now: datetime, summary: Mapping[str, Any]
    ) -> None:
        """Close a sync run with its final status and a JSON-serialisable summary."""

        def attempt() -> None:
            with self._write() as conn:
                updated = conn.execute(
                    sa.update(sync_runs)
                    .where(sync_runs.c.id == run_id)
                    .values(finished_at=now, status=status, summary=dict(summary))
                )
                if updated.rowcount != 1:
                    raise StoreError(f"sync run {run_id} does not exist")

        try:
            with translated("finishing a sync run", self._url):
                self._retrying("finishing a sync run", attempt)
        finally:
            self._release_run(run_id)

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
        query = entity_query().order_by(entities.c.kind, entities.c.namespace, entities.c.name)
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
                yield stored_entity(row)

    def feed_rows(
        self, *, kinds: frozenset[str] | None = None, refs: Collection[EntityRef] | None = None
    ) -> Generator[FeedRow, None, None]:
        """Every emitted, current entity's feed text ordered by ref, streamed.

        Only the pre-rendered feed columns are read, so serving 100,000 entities
        costs no JSON decoding. ``kinds`` filters by lowercase kind, ``refs``
        to those entities (read in chunks, each chunk in ref order).
        """
        if refs is not None:
            for condition in by_ref_keys((r.kind, r.namespace, r.name) for r in refs):
                yield from self._feed_rows(kinds, condition)
            return
        yield from self._feed_rows(kinds, None)

    def _feed_rows(
        self, kinds: frozenset[str] | None, condition: sa.ColumnElement[bool] | None
    ) -> Generator[FeedRow, None, None]:
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
        if condition is not None:
            query = query.where(condition)
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
        query = entity_query().where(*matching(ref))
        with translated("reading an entity", self._url), self._read() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else stored_entity(row)

    def revisions(self, ref: EntityRef) -> list[Revision]:
        """The history of one entity, oldest first."""
        with translated("reading revisions", self._url), self._read() as conn:
            return history(conn, *matching(ref))

    def findings(
        self, *, codes: Collection[str] | None = None, loose: bool = False
    ) -> list[Finding]:
        """The current findings, of entities and of files/scopes, by subject and code.

        ``loose`` keeps only those that belong to no entity (files, scopes).
        """
        text = (findings.c.subject, findings.c.code, findings.c.message)
        query = sa.select(findings).order_by(
            *(bytewise(column, self._engine.dialect) for column in text), findings.c.id
        )
        if codes is not None:
            query = query.where(findings.c.code.in_(sorted(codes)))
        if loose:
            query = query.where(findings.c.entity_id.is_(None))
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

    def tally(self) -> tuple[int, int, dict[str, int]]:
        """Current entities, how many are served to Backstage, and findings by severity."""
        current = sa.select(sa.func.count()).where(entities.c.removed.is_(False))
        with translated("counting entities", self._url), self._read(consistent=True) as conn:
            total = conn.execute(current).scalar_one()
            # The few not served, from their index (ix_entities_unserved): not every row.
            unserved = conn.execute(current.where(entities.c.feed_yaml.is_(None))).scalar_one()
            counted = conn.execute(
                sa.select(findings.c.severity, sa.func.count()).group_by(findings.c.severity)
            ).all()
        return int(total), int(total) - int(unserved), {str(k): int(v) for k, v in counted}

    def scopes(self) -> list[ScopeHealth]:
        """The health of every scope ever read, by source and scope."""
        with translated("reading scope health", self._url), self._read() as conn:
            return snapshot_rows.read_health(conn)

    def runs(self, limit: int = 20) -> list[SyncRun]:
        """The latest sync runs, newest (last started) first."""
        query = sa.select(sync_runs).order_by(sync_runs.c.id.desc()).limit(limit)
        with translated("reading sync runs", self._url), self._read() as conn:
            rows = conn.execute(query).all()
        return [_sync_run(row) for row in rows]

    def last_commit(self) -> SyncRun | None:
        """The run whose commit landed last (not the last started: runs overlap), or None."""
        query = (
            sa.select(sync_runs)
            .where(sync_runs.c.commit_number.is_not(None))
            .order_by(sync_runs.c.commit_number.desc())
            .limit(1)
        )
        with translated("reading sync runs", self._url), self._read() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else _sync_run(row)

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

    def _retrying(self, what: str, attempt: Callable[[], T]) -> T:
        return retry_while_locked(what, self._url, attempt, timeout=self._lock_timeout)

    def _hold_run(self, run_id: int) -> None:
        """PostgreSQL: hold run ``run_id``'s session lock on a connection of its own."""
        if self._lock_engine is None:  # its own connections: the pool serves the work
            self._lock_engine = sa.create_engine(self._url, poolclass=sa.NullPool)
        conn = self._lock_engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            hold_run_lock(conn, run_id)
        except BaseException:
            conn.close()
            raise
        self._run_locks[run_id] = conn

    def _release_run(self, run_id: int) -> None:
        conn = self._run_locks.pop(run_id, None)
        if conn is None:
            return
        try:
            release_run_lock(conn, run_id)
        except sa.exc.SQLAlchemyError:
            pass  # the session is gone, and its lock with it
        finally:
            conn.close()

    @contextmanager
    def _write(self, *, large: bool = False, rows: int = 0) -> Iterator[Connection]:
        """A connection in a write transaction, committed when the block succeeds.

        ``large`` (a sync's commit): SQLite copies its log into the database file on a
        thread of its own afterwards (:mod:`trueup.store.checkpoint`). ``rows``: about
        how many rows it writes; from ``BULK_ROWS`` SQLite has a larger page cache
        meanwhile (:func:`~trueup.store.engine.bulk_cache`).
        """
        with self._engine.connect() as conn:
            conn.execution_options(**{WRITE: True})
            with (
                self._checkpoints.deferred(conn) if large else nullcontext(),
                bulk_cache(conn) if rows >= BULK_ROWS else nullcontext(),
                conn.begin(),
            ):
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


def _observed(reads: Sequence[Snapshot | ScopeFailure]) -> int:
    """The observations a commit of ``reads`` writes at most (those of kept parts aside)."""
    return sum(len(read.observations) for read in reads if isinstance(read, Snapshot))


def _sync_run(row: sa.Row[Any]) -> SyncRun:
    return SyncRun(
        id=row.id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        status=row.status,
        trigger=row.trigger,
        sources=tuple(row.sources),
        summary=row.summary,
        committed_at=row.committed_at,
    )
