"""Writing and reading scope snapshots and scope health, inside the store's transactions.

:meth:`trueup.store.store.Store.commit` calls :func:`write_reads` and
:meth:`~trueup.store.store.Store.snapshots` calls :func:`read_snapshots`.

A snapshot's observations are stored in a canonical order (by ref, then by
content) together with a hash of their content *without* observed-at times. A
re-read with the same content keeps the observation rows and only records the
newer times on the snapshot row (``snapshots.observed_at``): re-reading an
unchanged scope of 100,000 observations writes one row, not 100,000.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trueup.errors import StoreError
from trueup.model.finding import Finding
from trueup.model.observation import FailureKind, Nature, Observation, ScopeFailure, Snapshot
from trueup.store.engine import JSONText, json_text
from trueup.store.records import ScopeHealth
from trueup.store.schema import observations, scopes, snapshots

ScopeKey = tuple[str, str]

_YIELD_PER = 2000


def write_reads(
    conn: Connection,
    run_id: int,
    reads: Sequence[Snapshot | ScopeFailure],
    held: Mapping[ScopeKey, int],
) -> tuple[int, int]:
    """Apply every read to its scope; returns (snapshots replaced, snapshots unchanged).

    ``held`` sets the held-back removals of the scopes it names; a scope read
    successfully and not named there has none any more.
    """
    scope_ids = _scope_ids(conn, {(read.source, read.scope) for read in reads} | set(held))
    stored = dict(conn.execute(sa.select(snapshots.c.scope_id, snapshots.c.content_hash)).all())
    replaced = unchanged = 0
    for read in reads:
        key = (read.source, read.scope)
        if isinstance(read, ScopeFailure):
            health: dict[str, Any] = {
                "last_failure_at": read.at,
                "last_error": read.message,
                "failure_kind": FailureKind(read.kind).value,
            }
        else:
            scope_id = scope_ids[key]
            content_hash, rewritten = _write_snapshot(
                conn, run_id, scope_id, read, stored.get(scope_id)
            )
            stored[scope_id] = content_hash
            replaced += rewritten
            unchanged += not rewritten
            health = {"last_success_at": read.read_at, "held_removals": held.get(key, 0)}
        conn.execute(sa.update(scopes).where(scopes.c.id == scope_ids[key]).values(**health))
    for key, count in held.items():
        conn.execute(
            sa.update(scopes).where(scopes.c.id == scope_ids[key]).values(held_removals=count)
        )
    return replaced, unchanged


def _write_snapshot(
    conn: Connection, run_id: int, scope_id: int, read: Snapshot, stored_hash: str | None
) -> tuple[str, bool]:
    """Store one snapshot: (its content hash, whether its observation rows were rewritten).

    When only the times changed, the rows are kept and the times go on the snapshot row.
    """
    encoded = sorted(
        (_encode(read, observation) for observation in read.observations),
        key=lambda item: (item.ref, item.text),
    )
    digest = hashlib.sha256()
    for item in encoded:
        digest.update(item.text.encode())
        digest.update(b"\n")
    row: dict[str, Any] = {
        "run_id": run_id,
        "nature": Nature(read.nature).value,
        "read_at": read.read_at,
        "version": read.version,
        "content_hash": digest.hexdigest(),
        "item_count": len(encoded),
        "findings": [f.to_json() for f in read.findings],
        "observed_at": None,
    }
    by_scope = snapshots.c.scope_id == scope_id
    if stored_hash == row["content_hash"]:
        row["observed_at"] = _times(item.observed_at for item in encoded)
        conn.execute(sa.update(snapshots).where(by_scope), row)
        return row["content_hash"], False
    conn.execute(sa.delete(observations).where(observations.c.scope_id == scope_id))
    if encoded:
        conn.execute(
            sa.insert(observations),
            [
                {
                    "scope_id": scope_id,
                    "position": position,
                    "ref": item.ref,
                    "locator": item.locator,
                    "nature": item.nature,
                    "observed_at": item.observed_at,
                    "payload": JSONText(item.text),
                }
                for position, item in enumerate(encoded)
            ],
        )
    if stored_hash is None:
        conn.execute(sa.insert(snapshots).values(scope_id=scope_id, **row))
    else:
        conn.execute(sa.update(snapshots).where(by_scope), row)
    return row["content_hash"], True


class _Encoded(NamedTuple):
    ref: str
    text: str  # canonical JSON of the observation without its observed-at time
    observed_at: datetime
    locator: str
    nature: str


def _encode(snapshot: Snapshot, observation: Observation) -> _Encoded:
    """One observation as stored: the payload text decides whether a re-read changed."""
    observed_at = observation.provenance.observed_at
    if observed_at.tzinfo is None or observed_at.utcoffset() is None:
        raise StoreError(
            f"observation of {observation.ref} in {snapshot.source}/{snapshot.scope} has a "
            "naive observed_at; times must be aware (UTC)"
        )
    data = observation.to_json()
    provenance = dict(data["provenance"])
    del provenance["observed_at"]
    data["provenance"] = provenance
    try:
        text = json_text(data, canonical=True)
    except (TypeError, ValueError) as error:
        raise StoreError(
            f"observation of {observation.ref} in {snapshot.source}/{snapshot.scope} "
            f"cannot be stored: {error}"
        ) from error
    return _Encoded(
        ref=str(observation.ref),
        text=text,
        observed_at=observed_at,
        locator=observation.provenance.locator,
        nature=Nature(observation.nature).value,
    )


def _times(times: Iterable[datetime]) -> str | list[str]:
    """One ISO time when all are equal (the usual case), else one per position."""
    texts = [at.isoformat() for at in times]
    if texts and all(text == texts[0] for text in texts):
        return texts[0]
    return texts


def _scope_ids(conn: Connection, keys: Iterable[ScopeKey]) -> dict[ScopeKey, int]:
    """The ids of the given scopes, creating rows for scopes never seen before."""
    rows = conn.execute(sa.select(scopes.c.source, scopes.c.scope, scopes.c.id))
    ids = {(source, scope): scope_id for source, scope, scope_id in rows}
    for source, scope in sorted(set(keys) - set(ids)):
        inserted = conn.execute(
            sa.insert(scopes).values(source=source, scope=scope).returning(scopes.c.id)
        )
        ids[(source, scope)] = inserted.scalar_one()
    return ids


def read_snapshots(conn: Connection) -> dict[ScopeKey, Snapshot]:
    """Every current snapshot. Run inside one transaction for a consistent view."""
    heads = conn.execute(
        sa.select(scopes.c.source, scopes.c.scope, snapshots).join(
            scopes, scopes.c.id == snapshots.c.scope_id
        )
    ).all()
    found: dict[int, list[Observation]] = {row.scope_id: [] for row in heads}
    times = {row.scope_id: row.observed_at for row in heads}
    query = sa.select(
        observations.c.scope_id, observations.c.observed_at, observations.c.payload
    ).order_by(observations.c.scope_id, observations.c.position)
    rows = conn.execute(query.execution_options(yield_per=_YIELD_PER))
    with closing(rows):
        for scope_id, observed_at, payload in rows:
            items = found[scope_id]
            override = times[scope_id]
            if isinstance(override, str):
                at = override
            elif isinstance(override, list):
                at = override[len(items)]
            else:
                at = observed_at.isoformat()
            payload["provenance"]["observed_at"] = at
            items.append(Observation.from_json(payload))
    return {
        (row.source, row.scope): Snapshot(
            source=row.source,
            scope=row.scope,
            nature=Nature(row.nature),
            read_at=row.read_at,
            observations=tuple(found[row.scope_id]),
            findings=tuple(Finding.from_json(f) for f in row.findings),
            version=row.version,
        )
        for row in heads
    }


def read_health(conn: Connection) -> list[ScopeHealth]:
    """The health of every scope ever read, ordered by source and scope."""
    query = (
        sa.select(scopes, snapshots.c.nature, snapshots.c.read_at, snapshots.c.version)
        .add_columns(snapshots.c.item_count)
        .outerjoin(snapshots, snapshots.c.scope_id == scopes.c.id)
        .order_by(scopes.c.source, scopes.c.scope)
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
        )
        for row in conn.execute(query)
    ]
