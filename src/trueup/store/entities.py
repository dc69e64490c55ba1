"""Writing assembled entities, their revisions and the current findings.

:meth:`trueup.store.store.Store.commit` calls :func:`write_entities` inside its
one transaction. The work is proportional to what changed:

- the current rows are loaded once as (id, hashes, revision, removed);
- an entity whose stored document is byte-identical is skipped outright;
- a document that differs is rewritten, and a revision is added only when
  :meth:`~trueup.model.assembled.AssembledEntity.content_hash` changed (or the
  entity comes back after a removal);
- its findings are replaced only when they differ;
- everything is written with executemany in batches.

An entity that is current but missing from the result gets a removal revision
and is marked removed; nothing is ever deleted from ``entities`` or ``revisions``.

With each document the entity's ``entity_terms`` (what its checks depend on:
``r:`` relation targets, ``h:`` the repositories of its Argo CD places, ``d:``
when discovered) and ``expires_at`` (its freshness schedule) are kept current;
the incremental engine (:mod:`trueup.store.incremental`) reads them to find
what to assemble again, and writes through :class:`EntityWriter` batch by batch.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trueup.model.assembled import AssembledEntity, AssemblyResult
from trueup.model.cause import revision_cause
from trueup.model.finding import Finding
from trueup.model.ref import EntityRef
from trueup.store.bulk import insert_rows
from trueup.store.encoded import Encoded, MaxAge, encode_entity, finding_row
from trueup.store.history import freeze_revisions
from trueup.store.records import Change, CommitSummary, StoredEntity
from trueup.store.schema import entities, entity_terms, findings, revisions

_CHUNK = 500  # ids per IN (...) list: well under SQLite's variable limit


@dataclass(frozen=True, slots=True)
class _Current:
    ref: EntityRef
    id: int
    revision: int
    content_hash: str
    document_hash: str
    findings_hash: str
    removed: bool
    expires_at: datetime | None


class _Plan:
    """The writes one commit needs, decided entity by entity before any is made."""

    def __init__(self, *, now: datetime, run_id: int, cause: str) -> None:
        self.now = now
        self.revision_base: dict[str, Any] = {"at": now, "run_id": run_id, "cause": cause}
        self.new: list[dict[str, Any]] = []
        self.new_entities: list[Encoded] = []
        self.revised: list[dict[str, Any]] = []  # rows that get a new revision number
        self.refreshed: list[dict[str, Any]] = []  # rows whose document changed, not content
        self.revisions: list[dict[str, Any]] = []
        self.findings: list[dict[str, Any]] = []
        self.clear_findings: list[int] = []  # entity ids whose findings are replaced
        self.terms: list[tuple[int, list[str]]] = []  # (entity id, terms) replacing its own
        self.new_terms: list[tuple[int, list[str]]] = []  # of entities this plan creates
        self.expiring: list[dict[str, Any]] = []  # rows whose expiry alone moved
        self.revised_refs: list[EntityRef] = []  # entities that got a revision
        self.counts = {f.name: 0 for f in fields(CommitSummary)}
        # Revisions whose cause needs the entity's previous state: (row, new state).
        self.explained: list[tuple[dict[str, Any], Encoded | None]] = []

    def add(self, encoded: Encoded, found: _Current | None) -> None:
        """Plan the writes for one entity of the result."""
        if found is None:
            self._create(encoded)
            return
        if not found.removed and found.document_hash == encoded.document_hash:
            self.counts["unchanged"] += 1  # the common case: nothing to write at all
            if found.expires_at != encoded.expires_at:
                self.expiring.append({"eid": found.id, "expires_at": encoded.expires_at})
            return
        written = encoded.for_write()
        self.terms.append((found.id, written.terms))
        row = {
            "eid": found.id,
            "content_hash": written.content_hash,
            "document_hash": encoded.document_hash,
            "findings_hash": encoded.findings_hash,
            "document": encoded.document,
            **written.feed,
            "removed": False,
            "refreshed_at": self.now,
            "expires_at": encoded.expires_at,
        }
        if found.removed or written.content_hash != found.content_hash:
            change = Change.RESTORED if found.removed else Change.CHANGED
            number = found.revision + 1
            self.revised.append({**row, "revision": number, "updated_at": self.now})
            self._revision(found.id, number, change, written.content_hash, new=encoded)
            self.counts[change.value] += 1
            self.revised_refs.append(encoded.ref)
        else:
            self.refreshed.append(row)  # newer ages, same content: no revision
            self.counts["unchanged"] += 1
            self.counts["rewritten"] += 1
        if found.removed or encoded.findings_hash != found.findings_hash:
            self.clear_findings.append(found.id)
            self.findings.extend({"entity_id": found.id, **f} for f in written.findings)

    def remove(self, gone: _Current) -> None:
        """Plan the removal of a current entity that the result no longer has."""
        number = gone.revision + 1
        self.revised.append(
            {
                "eid": gone.id,
                "revision": number,
                "removed": True,
                "updated_at": self.now,
                "expires_at": None,
            }
        )
        self._revision(gone.id, number, Change.REMOVED, None, new=None)
        self.clear_findings.append(gone.id)
        self.terms.append((gone.id, []))
        self.counts["removed"] += 1
        self.revised_refs.append(gone.ref)

    def apply(self, conn: Connection, loose_findings: Sequence[Finding] | None) -> None:
        """Make the planned writes, in bulk; ``loose_findings`` None leaves those alone."""
        _explain(conn, self.explained)  # before the rows holding the previous states change
        rewritten = [row["eid"] for row in (*self.revised, *self.refreshed) if "document" in row]
        freeze_revisions(conn, rewritten)  # likewise
        if self.new:
            for row, entity_id in zip(self.new, _allocate_ids(conn, len(self.new)), strict=True):
                row["id"] = entity_id
            insert_rows(conn, entities, self.new)
            for row, encoded in zip(self.new, self.new_entities, strict=True):
                written = encoded.for_write()
                revision = self._revision(
                    row["id"], 1, Change.CREATED, row["content_hash"], new=None
                )
                revision["cause"] += "; " + encoded.first_seen()
                self.findings.extend({"entity_id": row["id"], **f} for f in written.findings)
                self.new_terms.append((row["id"], written.terms))
        by_id = entities.c.id == sa.bindparam("eid")
        # executemany needs one set of keys per statement: removals have fewer.
        for rows in _group_by_keys(self.revised):
            conn.execute(sa.update(entities).where(by_id), rows)
        if self.refreshed:
            conn.execute(sa.update(entities).where(by_id), self.refreshed)
        if self.expiring:
            conn.execute(sa.update(entities).where(by_id), self.expiring)
        if self.revisions:
            insert_rows(conn, revisions, self.revisions)
        if loose_findings is not None:
            conn.execute(sa.delete(findings).where(findings.c.entity_id.is_(None)))
        for chunk in _chunks(self.clear_findings):
            conn.execute(sa.delete(findings).where(findings.c.entity_id.in_(chunk)))
        rows = self.findings + _finding_rows(None, loose_findings or ())
        if rows:
            insert_rows(conn, findings, rows)
        _write_terms(conn, self.terms, self.new_terms)

    def summary(self) -> CommitSummary:
        return CommitSummary(**{**self.counts, "revisions_written": len(self.revisions)})

    def _create(self, encoded: Encoded) -> None:
        written = encoded.for_write()
        self.new.append(
            {
                **dict(zip(("kind", "namespace", "name"), _key(encoded.ref), strict=True)),
                "revision": 1,
                "content_hash": written.content_hash,
                "document_hash": encoded.document_hash,
                "findings_hash": encoded.findings_hash,
                "document": encoded.document,
                **written.feed,
                "removed": False,
                "created_at": self.now,
                "updated_at": self.now,
                "refreshed_at": self.now,
                "expires_at": encoded.expires_at,
            }
        )
        self.new_entities.append(encoded)
        self.counts["created"] += 1
        self.revised_refs.append(encoded.ref)

    def _revision(
        self,
        entity_id: int,
        number: int,
        change: Change,
        content_hash: str | None,
        *,
        # The state its cause compares with the stored one; None for a removal. A
        # creation's cause (first seen in) is added by the caller.
        new: Encoded | None,
    ) -> dict[str, Any]:
        row = {
            **self.revision_base,
            "entity_id": entity_id,
            "number": number,
            "change": change.value,
            "content_hash": content_hash,
            "document": None,  # shares the entity's until that is rewritten (store/history.py)
        }
        self.revisions.append(row)
        if change is not Change.CREATED:
            self.explained.append((row, new))
        return row


def write_entities(
    conn: Connection,
    run_id: int,
    result: AssemblyResult,
    *,
    now: datetime,
    cause: str,
    max_age: MaxAge | None = None,
) -> CommitSummary:
    """Bring the current entities, revisions and findings in line with ``result``.

    ``max_age`` (by source) sets each entity's freshness schedule; without it
    no expiry is recorded.
    """
    current = _load_current(conn)
    plan = _Plan(now=now, run_id=run_id, cause=cause)
    for assembled in result.entities.values():
        plan.add(encode_entity(assembled, max_age, now), current.pop(_key(assembled.ref), None))
    for gone in current.values():
        if not gone.removed:
            plan.remove(gone)
    plan.apply(conn, result.findings)
    return plan.summary()


def _explain(conn: Connection, explained: Sequence[tuple[dict[str, Any], Encoded | None]]) -> None:
    """Add to each revision's cause what changed the entity (:func:`revision_cause`).

    The previous states are read in bulk, only for the entities that changed.
    """
    ids = [row["entity_id"] for row, _ in explained]
    previous: dict[int, AssembledEntity] = {}
    for chunk in _chunks(ids):
        query = sa.select(entities.c.id, entities.c.document).where(entities.c.id.in_(chunk))
        for entity_id, document in conn.execute(query):
            previous[entity_id] = AssembledEntity.from_json(document)
    for row, encoded in explained:
        new = encoded.assembled() if encoded is not None else None
        cause = revision_cause(previous.get(row["entity_id"]), new)
        if cause:
            row["cause"] += "; " + cause


class EntityWriter:
    """Writes an incremental commit's entities batch by batch; counts add up over batches."""

    def __init__(self, conn: Connection, *, run_id: int, now: datetime, cause: str) -> None:
        self.conn = conn
        self.run_id, self.now, self.cause = run_id, now, cause
        self.totals = {f.name: 0 for f in fields(CommitSummary)}
        self.revised: list[EntityRef] = []  # entities that got a revision, in write order

    def write(
        self, assembled: Sequence[Encoded], absent: Collection[EntityRef]
    ) -> list[tuple[EntityRef, Change]]:
        """Write the assembled entities and remove the absent ones.

        Returns the entities whose presence changed (created, restored, removed).
        """
        keys = [_key(a.ref) for a in assembled] + [_key(ref) for ref in absent]
        current = _load_current(self.conn, keys)
        plan = _Plan(now=self.now, run_id=self.run_id, cause=self.cause)
        moved: list[tuple[EntityRef, Change]] = []
        for encoded in assembled:
            found = current.get(_key(encoded.ref))
            if found is None:
                moved.append((encoded.ref, Change.CREATED))
            elif found.removed:
                moved.append((encoded.ref, Change.RESTORED))
            plan.add(encoded, found)
        for ref in absent:
            gone = current.get(_key(ref))
            if gone is not None and not gone.removed:
                plan.remove(gone)
                moved.append((ref, Change.REMOVED))
        plan.apply(self.conn, None)
        self.revised.extend(plan.revised_refs)
        for name, count in _counts(plan):
            self.totals[name] += count
        return moved

    def amend(self, assembled: Sequence[Encoded]) -> None:
        """Rewrite entities this commit created (:func:`created_in`) as assembled again in
        it: their rows, the content hash of their one revision, their findings and terms.
        Nothing is counted again and no revision added: the creation stays their one."""
        if not assembled:
            return
        current = _load_current(self.conn, [_key(e.ref) for e in assembled])
        rows: list[dict[str, Any]] = []
        found_rows: list[dict[str, Any]] = []
        terms: list[tuple[int, list[str]]] = []
        for encoded in assembled:
            entity_id = current[_key(encoded.ref)].id
            written = encoded.for_write()
            rows.append(
                {
                    "eid": entity_id,
                    "content_hash": written.content_hash,
                    "document_hash": encoded.document_hash,
                    "findings_hash": encoded.findings_hash,
                    "document": encoded.document,
                    **written.feed,
                    "expires_at": encoded.expires_at,
                }
            )
            found_rows.extend({"entity_id": entity_id, **f} for f in written.findings)
            terms.append((entity_id, written.terms))
        conn = self.conn
        conn.execute(sa.update(entities).where(entities.c.id == sa.bindparam("eid")), rows)
        first = sa.update(revisions).where(
            revisions.c.entity_id == sa.bindparam("eid"), revisions.c.number == 1
        )
        conn.execute(
            first.values(content_hash=sa.bindparam("hash")),
            [{"eid": row["eid"], "hash": row["content_hash"]} for row in rows],
        )
        for chunk in _chunks([entity_id for entity_id, _ in terms]):
            conn.execute(sa.delete(findings).where(findings.c.entity_id.in_(chunk)))
        if found_rows:
            insert_rows(conn, findings, found_rows)
        _write_terms(conn, terms, [])

    def summary(self) -> CommitSummary:
        return CommitSummary(**self.totals)


def created_in(conn: Connection, run_id: int, refs: Collection[EntityRef]) -> set[EntityRef]:
    """Those of ``refs`` whose one revision, their creation, run ``run_id`` wrote."""
    found: set[EntityRef] = set()
    query = (
        sa.select(entities.c.kind, entities.c.namespace, entities.c.name)
        .join(revisions, revisions.c.entity_id == entities.c.id)
        .where(entities.c.revision == 1, revisions.c.number == 1, revisions.c.run_id == run_id)
    )
    for condition in by_ref_keys(_key(ref) for ref in refs):
        found.update(EntityRef(*row) for row in conn.execute(query.where(condition)))
    return found


def _counts(plan: _Plan) -> Iterator[tuple[str, int]]:
    summary = plan.summary()
    for f in fields(CommitSummary):
        yield f.name, getattr(summary, f.name)


def _write_terms(
    conn: Connection,
    terms: Sequence[tuple[int, list[str]]],
    new: Sequence[tuple[int, list[str]]],
) -> None:
    """Replace the ``terms`` of existing entities; add those of ``new`` ones.

    A new entity has no terms to delete: its id was free (entities are never
    deleted, and a term's foreign key needs its entity).
    """
    for chunk in _chunks([entity_id for entity_id, _ in terms]):
        conn.execute(sa.delete(entity_terms).where(entity_terms.c.entity_id.in_(chunk)))
    rows = [
        {"entity_id": entity_id, "term": term}
        for entity_id, items in (*terms, *new)
        for term in items
    ]
    if rows:
        insert_rows(conn, entity_terms, rows)


def _key(ref: EntityRef) -> tuple[str, str, str]:
    return (ref.kind.lower(), ref.namespace.lower(), ref.name.lower())


def _allocate_ids(conn: Connection, count: int) -> list[int]:
    """Ids for new entity rows, taken before inserting them.

    A plain executemany is several times faster than INSERT … RETURNING in
    batches (psycopg re-parses every long multi-row statement). The store's
    writers are serialised, so on SQLite the next ids are simply above the
    largest; PostgreSQL hands them out from the column's sequence.
    """
    if conn.dialect.name == "postgresql":
        sequence = sa.func.pg_get_serial_sequence(entities.name, entities.c.id.name)
        query = sa.select(sa.func.nextval(sequence)).select_from(sa.func.generate_series(1, count))
        return [int(value) for value in conn.execute(query).scalars()]
    highest = conn.execute(sa.select(sa.func.coalesce(sa.func.max(entities.c.id), 0))).scalar()
    start = int(highest or 0) + 1
    return list(range(start, start + count))


def _load_current(
    conn: Connection, keys: Sequence[tuple[str, str, str]] | None = None
) -> dict[tuple[str, str, str], _Current]:
    """The stored rows of every entity, or of the given (kind, namespace, name) keys."""
    query = sa.select(
        entities.c.kind,
        entities.c.namespace,
        entities.c.name,
        entities.c.id,
        entities.c.revision,
        entities.c.content_hash,
        entities.c.document_hash,
        entities.c.findings_hash,
        entities.c.removed,
        entities.c.expires_at,
    )
    if keys is None:
        return {(r[0], r[1], r[2]): _current(tuple(r)) for r in conn.execute(query)}
    found: dict[tuple[str, str, str], _Current] = {}
    for condition in by_ref_keys(keys):
        found.update(
            {(r[0], r[1], r[2]): _current(tuple(r)) for r in conn.execute(query.where(condition))}
        )
    return found


def by_ref_keys(keys: Iterable[tuple[str, str, str]]) -> Iterator[sa.ColumnElement[bool]]:
    """Conditions selecting entities by (kind, namespace, name), chunk by chunk.

    Each is ``kind = … AND namespace = … AND name IN (…)``: the unique index on
    (kind, namespace, name) answers it on SQLite and PostgreSQL alike (a row-value
    ``IN`` makes SQLite scan the table).
    """
    grouped: dict[tuple[str, str], list[str]] = {}
    for kind, namespace, name in sorted(set(keys)):
        grouped.setdefault((kind, namespace), []).append(name)
    for (kind, namespace), names in grouped.items():
        for start in range(0, len(names), _CHUNK):
            yield sa.and_(
                entities.c.kind == kind,
                entities.c.namespace == namespace,
                entities.c.name.in_(names[start : start + _CHUNK]),
            )


def _current(row: tuple[Any, ...]) -> _Current:
    kind, namespace, name, entity_id, revision, content, document, found, removed, expires = row
    return _Current(
        EntityRef(kind, namespace, name),
        entity_id,
        revision,
        content,
        document,
        found,
        removed,
        expires,
    )


def _finding_rows(entity_id: int | None, items: Iterable[Finding]) -> list[dict[str, Any]]:
    return [{"entity_id": entity_id, **finding_row(f)} for f in items]


def _group_by_keys(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(frozenset(row), []).append(row)
    yield from groups.values()


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


# --- reading ---------------------------------------------------------------------------


def entity_query() -> sa.Select[Any]:
    """The columns a :class:`StoredEntity` is read from (:func:`stored_entity`)."""
    return sa.select(
        entities.c.kind,
        entities.c.namespace,
        entities.c.name,
        entities.c.document,
        entities.c.revision,
        entities.c.updated_at,
        entities.c.removed,
    )


def matching(ref: EntityRef) -> tuple[sa.ColumnElement[bool], ...]:
    """The conditions that select one entity's row, as refs compare (case-insensitively)."""
    return (
        entities.c.kind == ref.kind.lower(),
        entities.c.namespace == ref.namespace.lower(),
        entities.c.name == ref.name.lower(),
    )


def stored_entity(row: sa.Row[Any]) -> StoredEntity:
    return StoredEntity(
        ref=EntityRef(row.kind, row.namespace, row.name),
        assembled=AssembledEntity.from_json(row.document),
        revision=row.revision,
        updated_at=row.updated_at,
        removed=row.removed,
    )
