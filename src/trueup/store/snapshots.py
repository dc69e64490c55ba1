"""Scopes and their health, and the snapshots as a source or the from-scratch path sees them.

Called by :class:`trueup.store.store.Store` inside its transactions:
:func:`scope_ids` finds (or creates) scope rows, :func:`write_health` records
each read's outcome (with :func:`data_time`, how old the data it leaves is),
:func:`read_health` reports it, and :func:`previous_snapshots`
gives the sources the stored snapshots they read against — the observations
of a scope load on first use (:class:`StoredObservations`), and a source that
splits its scope into parts (files) asks for the parts it needs only
(:class:`PartLoader`). The observation rows themselves are
:mod:`trueup.store.observations`'. The pipeline asks :func:`superseded` whether a
newer read of a scope landed meanwhile, and its from-scratch path
:func:`materialised` for a read's kept parts as stored observations.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime
from typing import Any, overload

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trueup.model.observation import (
    FailureKind,
    Nature,
    Observation,
    ScopeFailure,
    ScopeRead,
    Snapshot,
)
from trueup.store import observations as rows
from trueup.store.records import ScopeHealth
from trueup.store.schema import bytewise, scopes, snapshot_parts, snapshots

ScopeKey = tuple[str, str]
Connect = Callable[[], AbstractContextManager[Connection]]


def write_health(
    conn: Connection,
    scope_ids: Mapping[ScopeKey, int],
    reads: Sequence[Snapshot | ScopeFailure],
    held: Mapping[ScopeKey, int],
    skipped: Collection[ScopeKey] = (),
) -> None:
    """Record each read's outcome on its scope; ``held`` sets the held-back removals.

    A scope read successfully and not named in ``held`` has none any more;
    ``skipped`` reads were not applied (superseded) and change nothing. A
    successful read also sets how old the scope's data is (:func:`data_time`).
    """
    for read in reads:
        key = (read.source, read.scope)
        if key in skipped:
            continue
        if isinstance(read, ScopeFailure):
            health: dict[str, Any] = {
                "last_failure_at": read.at,
                "last_error": read.message,
                "failure_kind": FailureKind(read.kind).value,
            }
        else:
            health = {
                "last_success_at": read.read_at,
                "held_removals": held.get(key, 0),
                "data_at": data_time(conn, scope_ids[key], read, held=held.get(key, 0) > 0),
            }
        conn.execute(sa.update(scopes).where(scopes.c.id == scope_ids[key]).values(**health))
    for key, count in held.items():
        if key in scope_ids:
            conn.execute(
                sa.update(scopes).where(scopes.c.id == scope_ids[key]).values(held_removals=count)
            )


def data_time(conn: Connection, scope_id: int, read: Snapshot, *, held: bool) -> datetime | None:
    """How old the data of the scope is once ``read`` is applied: its newest ``observed_at``.

    None for an intent scope: a declaration does not turn stale with age. The
    parts a read keeps (an unchanged export) and the rows a held removal keeps are
    not in ``read``: they were stored under the scope's ``data_at`` before, so it
    still counts, read back by key instead of every stored row decoded. Exact when
    the whole scope is kept; with some parts kept it can be later than the newest
    row left, when the row that set it went (a watched object deleted) or was
    replaced by an older one.
    """
    if Nature(read.nature) is not Nature.ACTUAL:
        return None
    newest = max((o.provenance.observed_at for o in read.observations), default=None)
    if read.kept or held:
        stored = sa.select(scopes.c.data_at).where(scopes.c.id == scope_id)
        before: datetime | None = conn.execute(stored).scalar()
        if before is not None and (newest is None or before > newest):
            return before
    return newest


def scope_ids(conn: Connection, keys: Iterable[ScopeKey]) -> dict[ScopeKey, int]:
    """The ids of the given scopes, creating rows for scopes never seen before."""
    found = conn.execute(sa.select(scopes.c.source, scopes.c.scope, scopes.c.id))
    ids = {(source, scope): scope_id for source, scope, scope_id in found}
    for source, scope in sorted(set(keys) - set(ids)):
        inserted = conn.execute(
            sa.insert(scopes).values(source=source, scope=scope).returning(scopes.c.id)
        )
        ids[(source, scope)] = inserted.scalar_one()
    return ids


def names(conn: Connection) -> dict[int, ScopeKey]:
    return {
        i: (source, scope)
        for i, source, scope in conn.execute(
            sa.select(scopes.c.id, scopes.c.source, scopes.c.scope)
        )
    }


def materialised(read: ScopeRead, stored: Mapping[ScopeKey, Snapshot]) -> ScopeRead:
    """A read with kept parts as a whole snapshot: the stored observations of those parts.

    The from-scratch reference path merges whole snapshots; the incremental
    commit keeps those parts' rows instead.
    """
    if isinstance(read, ScopeFailure) or not read.kept:
        return read
    before = stored.get((read.source, read.scope))
    kept = [o for o in (before.observations if before else ()) if (o.part or "") in read.kept]
    return replace(read, observations=(*kept, *read.observations), kept=frozenset())


def superseded(read: ScopeRead, stored: Mapping[ScopeKey, Snapshot]) -> bool:
    """A newer read of the same scope was committed meanwhile: this one must not replace it."""
    newer = stored.get((read.source, read.scope))
    when = read.at if isinstance(read, ScopeFailure) else read.read_at
    return newer is not None and newer.read_at > when


def read_snapshots(conn: Connection) -> dict[ScopeKey, Snapshot]:
    """Every current snapshot, materialised. Run inside one transaction for a consistent view."""
    return rows.read_snapshots(conn, names(conn))


def previous_snapshots(conn: Connection, connect: Connect) -> dict[ScopeKey, Snapshot]:
    """Every current snapshot as sources read against it: observations loaded on first use."""
    scope_names = names(conn)
    prints: dict[int, dict[str, str]] = {}
    query = sa.select(
        snapshot_parts.c.scope_id, snapshot_parts.c.part, snapshot_parts.c.fingerprint
    )
    for scope_id, part, print_ in conn.execute(query).all():  # fetchall: 100,000s of rows
        prints.setdefault(scope_id, {})[part] = print_
    found: dict[ScopeKey, Snapshot] = {}
    for row in conn.execute(sa.select(snapshots)):
        key = scope_names[row.scope_id]
        loader = PartLoader(connect, row.scope_id, rows.token(row.run_id))
        found[key] = rows.snapshot_of(
            row,
            key,
            StoredObservations(loader),
            parts=prints.get(row.scope_id, {}),
            stored=loader,
        )
    return found


class PartLoader:
    """Loads one stored scope's observations, all or some parts, each time on a new read."""

    def __init__(self, connect: Connect, scope_id: int, token: str) -> None:
        self.connect = connect
        self.scope_id = scope_id
        self._token = token

    @property
    def token(self) -> str:
        return self._token

    def observations(self, parts: Collection[str] | None = None) -> list[Observation]:
        with self.connect() as conn:
            return rows.scope_observations(conn, self.scope_id, parts)


class StoredObservations(Sequence[Observation]):
    """A stored snapshot's observations, read from the store when first used."""

    def __init__(self, loader: PartLoader) -> None:
        self._loader = loader
        self._items: tuple[Observation, ...] | None = None

    def _all(self) -> tuple[Observation, ...]:
        if self._items is None:
            self._items = tuple(self._loader.observations())
        return self._items

    @overload
    def __getitem__(self, index: int) -> Observation: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Observation]: ...
    def __getitem__(self, index: int | slice) -> Observation | Sequence[Observation]:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[Observation]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        return tuple(self) == (tuple(other) if isinstance(other, Iterable) else other)

    __hash__ = None  # type: ignore[assignment]


def read_health(conn: Connection) -> list[ScopeHealth]:
    """The health of every scope ever read, ordered by source and scope."""
    query = (
        sa.select(scopes, snapshots.c.nature, snapshots.c.read_at, snapshots.c.version)
        .add_columns(snapshots.c.item_count)
        .outerjoin(snapshots, snapshots.c.scope_id == scopes.c.id)
        .order_by(bytewise(scopes.c.source, conn.dialect), bytewise(scopes.c.scope, conn.dialect))
    )
    return [
        ScopeHealth(
            source=row.source,
            scope=row.scope,
            nature=Nature(row.nature) if row.nature else None,
            last_success_at=row.last_success_at,
            last_failure_at=row.last_failure_at,
            last_error=row.last_error,
            failure_kind=FailureKind(row.failure_kind) if row.failure_kind else None,
            item_count=row.item_count or 0,
            version=row.version,
            held_removals=row.held_removals,
            read_at=row.read_at,
            data_at=row.data_at,
        )
        for row in conn.execute(query)
    ]
