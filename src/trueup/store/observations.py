"""Observation rows: each observation of a scope stored once, found by part and by entity.

Called inside the store's commit transaction: :func:`apply_read` brings one
scope's rows in line with a new read (removal guard included) and reports what
it removed and added; the incremental engine (:mod:`trueup.store.incremental`)
then loads observations per entity with :func:`intent_of` and
:func:`actual_of`. :func:`read_snapshots` materialises every snapshot (the
from-scratch path, ``trueup`` tests), :class:`StoredPartLoader` serves a
source the stored observations of the parts it asks for.

A row's ``digest`` is the sha256 of its canonical JSON (times included), so a
re-read costs one comparison per observation of the parts it did not keep, and
a part a source keeps (an unchanged file) costs nothing. ``observation_terms``
indexes what linking needs: ``a:key=value`` for each annotation of a
(non-Location) intent observation, ``l:key=value`` and ``s:key`` for the link
pairs and selector keys of an actual one, and ``t:ref`` for each entity an
actual observation enriches (its link targets, written by the engine).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trueup.assemble.assembler import is_structural
from trueup.assemble.guard import decide_removals, is_counted
from trueup.assemble.linking import annotation_pairs
from trueup.errors import KeptPartChangedError
from trueup.model.emission import LOCATION
from trueup.model.finding import Finding
from trueup.model.observation import Nature, Observation, Snapshot, held_parts
from trueup.model.ref import EntityRef
from trueup.store.bulk import insert_rows
from trueup.store.engine import load_json
from trueup.store.schema import (
    bytewise,
    observation_terms,
    observations,
    snapshot_parts,
    snapshots,
)
from trueup.store.stored_form import Encoded, ReadEncoder

ANNOTATION = "a:"
LINK = "l:"
SELECTOR = "s:"
TARGET = "t:"
CHUNK = 500  # values per IN (...) list: well under SQLite's variable limit
INSERT_BATCH = 2000  # observation rows per insert


@dataclass(frozen=True, slots=True)
class StoredRow:
    id: int
    ref: str
    nature: str
    part: str
    digest: str


@dataclass
class ScopeChange:
    """What applying one read did to its scope's rows."""

    source: str
    scope: str
    removed: list[StoredRow] = field(default_factory=list)  # rows deleted
    removed_terms: dict[int, list[str]] = field(default_factory=dict)
    added: list[tuple[int, Observation]] = field(default_factory=list)  # (row id, observation)
    added_terms: list[list[str]] = field(default_factory=list)  # terms_of each added one
    held: frozenset[EntityRef] = frozenset()
    finding: Finding | None = None

    @property
    def rewritten(self) -> bool:
        return bool(self.removed or self.added)


def terms_of(observation: Observation) -> list[str]:
    """The index terms of an observation, its targets aside."""
    if observation.nature is Nature.INTENT:
        if is_structural(observation.ref):
            return []
        return [f"{ANNOTATION}{k}={v}" for k, v in annotation_pairs(observation.fields)]
    return [f"{LINK}{k}={v}" for k, v in observation.links] + [
        f"{SELECTOR}{key}" for key in observation.selectors
    ]


def stored_ref(text: str) -> EntityRef:
    """An entity ref as the store writes it (``kind:namespace/name``, lower case)."""
    kind, _, rest = text.partition(":")
    namespace, _, name = rest.partition("/")
    return EntityRef(kind, namespace, name)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- applying a read -----------------------------------------------------------------


def apply_read(
    conn: Connection,
    run_id: int,
    scope_id: int,
    read: Snapshot,
    *,
    accepted: bool,
    max_ratio: float,
    base: str | None = None,
    held_before: frozenset[EntityRef] = frozenset(),
) -> ScopeChange:
    """Bring one scope's rows in line with ``read``, holding removals that lack proof.

    ``held_before`` are the refs whose removal an earlier read held (they stay
    held while absent, see :func:`decide_removals`). ``base`` is the token
    (:func:`token`) of the stored snapshot the read kept its parts from: when it
    is still the stored one, the kept parts need no checking and only the
    changed parts' fingerprints are read. Raises
    :class:`KeptPartChangedError` when ``read`` keeps a part that was stored
    with another fingerprint meanwhile (a newer read of the scope landed).
    """
    change = ScopeChange(read.source, read.scope)
    head = conn.execute(
        sa.select(snapshots.c.item_count, snapshots.c.run_id).where(
            snapshots.c.scope_id == scope_id
        )
    ).one_or_none()
    if read.kept and head is None:
        raise KeptPartChangedError(f"{read.source}/{read.scope}: parts kept, but none is stored")
    prints = _Prints.of(conn, scope_id, read, trusted=head is not None and base == str(head.run_id))
    for part in read.kept - prints.kept:  # parts not known to be the stored ones
        if prints.stored.get(part) != read.parts.get(part):
            raise KeptPartChangedError(
                f"{read.source}/{read.scope}: part {part!r} was kept, but its stored "
                "fingerprint differs"
            )
    new_parts = {o.part or "" for o in read.observations}
    candidates = _candidates(conn, scope_id, read, new_parts, prints) if head is not None else []

    # Match by digest; what is new is inserted batch by batch, so the stored
    # form of a large read is never held whole.
    by_digest: dict[str, list[StoredRow]] = defaultdict(list)
    for row in candidates:
        by_digest[row.digest].append(row)
    pending: list[Encoded] = []
    added_refs: set[str] = set()
    encode = ReadEncoder(read)
    for observation in read.observations:
        item = encode(observation)
        same = by_digest.get(item.digest)
        if same:
            same.pop()
            continue
        pending.append(item)
        added_refs.add(item.ref)
        if len(pending) >= INSERT_BATCH:
            _insert(conn, scope_id, pending, change)
            pending = []
    _insert(conn, scope_id, pending, change)
    removed = [row for rows in by_digest.values() for row in rows]

    held_prints: dict[str, str] = {}
    if head is not None and removed and not accepted:
        held = _guard(
            conn,
            scope_id,
            read,
            removed=removed,
            added=added_refs,
            first_added=min((obs_id for obs_id, _ in change.added), default=None),
            max_ratio=max_ratio,
            held_before=held_before,
        )
        if held is not None:
            change.held, change.finding = held
            carried = [row for row in removed if stored_ref(row.ref) in change.held]
            removed = [row for row in removed if stored_ref(row.ref) not in change.held]
            # Stored with the HELD_PART fingerprint: the next read of the same content
            # cannot keep these parts unread, so the removal meets the guard again.
            held_prints = held_parts((row.part for row in carried), read.parts)

    change.removed = removed
    change.removed_terms = _terms(conn, [row.id for row in removed])
    _delete(conn, [row.id for row in removed])
    prints.write({**read.parts, **held_prints})
    count = (int(head.item_count) if head is not None else 0) - len(removed) + len(change.added)
    values: dict[str, Any] = {
        "run_id": run_id,
        "nature": Nature(read.nature).value,
        "read_at": read.read_at,
        "version": read.version,
        "item_count": count,
        "findings": [f.to_json() for f in read.findings],
    }
    if head is None:
        conn.execute(sa.insert(snapshots).values(scope_id=scope_id, **values))
    else:
        conn.execute(sa.update(snapshots).where(snapshots.c.scope_id == scope_id), values)
    return change


def token(run_id: int | None) -> str:
    """Names one stored state of a scope: the run whose commit wrote its snapshot row."""
    return str(run_id)


class _Prints:
    """A scope's stored part fingerprints: all of them, or only the changed parts' when the
    read's kept parts are known to be the stored ones (then the rest is counted, not read)."""

    def __init__(self, conn: Connection, scope_id: int) -> None:
        self.conn = conn
        self.scope_id = scope_id
        self.stored: dict[str, str] = {}
        self.complete = False
        self.kept: frozenset[str] = frozenset()  # kept parts known to be as stored

    @classmethod
    def of(cls, conn: Connection, scope_id: int, read: Snapshot, *, trusted: bool) -> _Prints:
        prints = cls(conn, scope_id)
        where = snapshot_parts.c.scope_id == scope_id
        query = sa.select(snapshot_parts.c.part, snapshot_parts.c.fingerprint).where(where)
        if trusted and read.kept:
            changed = sorted(set(read.parts) - read.kept)
            for chunk in chunks(changed):
                prints.stored.update(
                    conn.execute(query.where(snapshot_parts.c.part.in_(chunk))).all()
                )
            total = conn.execute(sa.select(sa.func.count()).where(where)).scalar_one()
            if total == len(read.kept) + len(prints.stored):  # no stored part vanished
                prints.kept = read.kept
                return prints
        prints.stored = dict(conn.execute(query).all())
        prints.complete = True
        return prints

    def parts(self) -> set[str]:
        """Every stored part (valid when complete), or the changed ones read."""
        return set(self.stored)

    def write(self, new: Mapping[str, str]) -> None:
        """Make the stored fingerprints ``new`` (kept parts are already right)."""
        stored = self.stored
        gone = sorted(set(stored) - set(new)) if self.complete else []
        for chunk in chunks(gone):
            self.conn.execute(
                sa.delete(snapshot_parts).where(
                    snapshot_parts.c.scope_id == self.scope_id, snapshot_parts.c.part.in_(chunk)
                )
            )
        todo = {p: f for p, f in new.items() if p not in self.kept}
        changed = [p for p, f in todo.items() if p in stored and stored[p] != f]
        if changed:
            self.conn.execute(
                sa.update(snapshot_parts).where(
                    snapshot_parts.c.scope_id == self.scope_id,
                    snapshot_parts.c.part == sa.bindparam("p"),
                ),
                [{"p": part, "fingerprint": todo[part]} for part in changed],
            )
        fresh = [
            {"scope_id": self.scope_id, "part": p, "fingerprint": f}
            for p, f in todo.items()
            if p not in stored
        ]
        if fresh:
            self.conn.execute(sa.insert(snapshot_parts), fresh)


def _candidates(
    conn: Connection,
    scope_id: int,
    read: Snapshot,
    new_parts: set[str],
    prints: _Prints,
) -> list[StoredRow]:
    """The stored rows the read may replace: all of them, or those of the parts not kept.

    Every stored row's part has a fingerprint, or is ``""`` (rows of a source
    without parts): the parts to compare are known without reading the rows.
    """
    columns = (
        observations.c.id,
        observations.c.ref,
        observations.c.nature,
        observations.c.part,
        observations.c.digest,
    )
    query = sa.select(*columns).where(observations.c.scope_id == scope_id)
    if not read.kept:
        return [StoredRow(*row) for row in conn.execute(query)]
    parts = prints.parts() | set(read.parts) | new_parts | {""}
    changed = sorted(parts - read.kept)
    found: list[StoredRow] = []
    for chunk in chunks(changed):
        found.extend(
            StoredRow(*row) for row in conn.execute(query.where(observations.c.part.in_(chunk)))
        )
    return found


def _guard(
    conn: Connection,
    scope_id: int,
    read: Snapshot,
    *,
    removed: Sequence[StoredRow],
    added: set[str],
    first_added: int | None,
    max_ratio: float,
    held_before: frozenset[EntityRef],
) -> tuple[frozenset[EntityRef], Finding] | None:
    """Rule 4 on counted rows: the refs the read removes from the scope, held or not."""
    losing = Counter(row.ref for row in removed)
    names = sorted(set(losing) - added)
    left: dict[str, int] = {}
    for chunk in chunks(names):
        # Counted in every scope and picked here: with the scope in the query, SQLite (which
        # has no statistics) may walk the whole scope's index instead of these refs'.
        counted = conn.execute(
            sa.select(observations.c.ref, observations.c.scope_id, sa.func.count())
            .where(observations.c.ref.in_(chunk))
            .group_by(observations.c.ref, observations.c.scope_id)
        )
        left.update((name, count) for name, scope, count in counted if scope == scope_id)
    gone = {stored_ref(name) for name in names if left.get(name, 0) - losing[name] <= 0}
    if not gone:
        return None
    # The share is one of the scope's entities: its Locations do not count (see the guard).
    stored = sa.and_(observations.c.scope_id == scope_id, ~observations.c.ref.like(f"{LOCATION}:%"))
    if first_added is not None:  # the rows this read added are already in: not "before"
        stored = sa.and_(stored, observations.c.id < first_added)
    before = int(
        conn.execute(
            sa.select(sa.func.count(sa.distinct(observations.c.ref))).where(stored)
        ).scalar_one()
    )
    # Empty: no entity is left (every stored one is gone and the read added none).
    lost = sum(1 for ref in gone if is_counted(ref))
    empty = lost == before and not any(is_counted(stored_ref(name)) for name in added)
    return decide_removals(
        read.source,
        read.scope,
        before=before,
        removed=gone,
        empty=empty,
        max_ratio=max_ratio,
        held_before=held_before,
    )


def _terms(conn: Connection, ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    for chunk in chunks(ids):
        query = sa.select(observation_terms.c.observation_id, observation_terms.c.term).where(
            observation_terms.c.observation_id.in_(chunk)
        )
        for obs_id, term in conn.execute(query):
            found[obs_id].append(term)
    return dict(found)


def _delete(conn: Connection, ids: Sequence[int]) -> None:
    for chunk in chunks(ids):
        conn.execute(
            sa.delete(observation_terms).where(observation_terms.c.observation_id.in_(chunk))
        )
        conn.execute(sa.delete(observations).where(observations.c.id.in_(chunk)))


def _insert(conn: Connection, scope_id: int, items: Sequence[Encoded], change: ScopeChange) -> None:
    """Write ``items`` and their terms; each is added to ``change`` with its row id and terms."""
    if not items:
        return
    ids = allocate_ids(conn, observations, len(items))
    insert_rows(
        conn,
        observations,
        [
            {
                "id": obs_id,
                "scope_id": scope_id,
                "part": item.part,
                "ref": item.ref,
                "nature": _nature(item.observation.nature),
                "digest": item.digest,
                "payload": item.text,
            }
            for obs_id, item in zip(ids, items, strict=True)
        ],
    )
    terms = [terms_of(item.observation) for item in items]
    term_rows = [
        {"observation_id": obs_id, "term": term}
        for obs_id, found in zip(ids, terms, strict=True)
        for term in found
    ]
    if term_rows:
        insert_rows(conn, observation_terms, term_rows)
    change.added.extend(zip(ids, (item.observation for item in items), strict=True))
    change.added_terms.extend(terms)


def _nature(nature: Nature | str) -> str:
    """``Nature(nature).value``, without the enum's call (and property) for a member."""
    return nature._value_ if type(nature) is Nature else Nature(nature).value


def allocate_ids(conn: Connection, table: sa.Table, count: int) -> list[int]:
    """Ids for new rows, taken before inserting them (executemany without RETURNING).

    The store's writers are serialised, so on SQLite the next ids are simply
    above the largest; PostgreSQL hands them out from the column's sequence.
    """
    column = table.c.id
    if conn.dialect.name == "postgresql":
        sequence = sa.func.pg_get_serial_sequence(table.name, column.name)
        query = sa.select(sa.func.nextval(sequence)).select_from(sa.func.generate_series(1, count))
        return [int(value) for value in conn.execute(query).scalars()]
    highest = conn.execute(sa.select(sa.func.coalesce(sa.func.max(column), 0))).scalar()
    start = int(highest or 0) + 1
    return list(range(start, start + count))


# --- reading -------------------------------------------------------------------------


def decode(payload: Any) -> Observation:
    return Observation.from_json(payload)


Handle = int | tuple[int, Mapping[str, Any] | str]
"""An observation to assemble: its row id among those in memory (``known``), or its row id
and payload read from the database (decoded, or its JSON text)."""


def intent_of(
    conn: Connection, refs: Collection[str], known: Mapping[int, Observation] | None
) -> dict[str, list[Handle]]:
    """The intent observations of each ref (Location entities aside), by ref.

    ``known`` holds observations already in memory by row id (those this commit
    wrote): they are not read back. :func:`resolve` makes handles observations.
    With ``known`` None every payload is read, as its JSON text (to be sent to a
    worker process and decoded there).
    """
    intent = observations.c.nature == Nature.INTENT.value
    if known is None:  # each payload with its ref, in one query
        texts = sa.select(observations.c.ref, observations.c.id, _PAYLOAD_TEXT).where(intent)
        return _with_texts(conn, texts, observations.c.ref, sorted(refs), "")
    query = sa.select(observations.c.ref, observations.c.id).where(intent)
    pairs: list[tuple[str, int]] = []
    where = observations.c.ref.in_
    for chunk in chunks(sorted(refs)):
        pairs.extend((ref, obs_id) for ref, obs_id in conn.execute(query.where(where(chunk))))
    return _by_key(conn, pairs, known)


def actual_of(
    conn: Connection, refs: Collection[str], known: Mapping[int, Observation] | None
) -> dict[str, list[Handle]]:
    """The actual observations that enrich each ref (its ``t:`` terms, repeated as linked)."""
    terms = [TARGET + ref for ref in sorted(refs)]
    if known is None:  # each payload with its term, in one query
        texts = sa.select(
            observation_terms.c.term, observation_terms.c.observation_id, _PAYLOAD_TEXT
        ).join(observations, observations.c.id == observation_terms.c.observation_id)
        return _with_texts(conn, texts, observation_terms.c.term, terms, TARGET)
    query = sa.select(observation_terms.c.term, observation_terms.c.observation_id)
    pairs: list[tuple[str, int]] = []
    for chunk in chunks(terms):
        for term, obs_id in conn.execute(query.where(observation_terms.c.term.in_(chunk))):
            pairs.append((term[len(TARGET) :], obs_id))
    return _by_key(conn, pairs, known)


_PAYLOAD_TEXT = sa.cast(observations.c.payload, sa.Text)


def _with_texts(
    conn: Connection, query: sa.Select[Any], key: sa.ColumnElement[str], keys: list[str], cut: str
) -> dict[str, list[Handle]]:
    """Handles grouped by key less its prefix ``cut``, ordered by row id, from a query of
    (key, row id, payload text)."""
    rows: list[Any] = []  # (key, row id, payload text)
    for chunk in chunks(keys):
        rows.extend(conn.execute(query.where(key.in_(chunk))))
    rows.sort(key=lambda row: row[1])
    found: dict[str, list[Handle]] = defaultdict(list)
    for name, obs_id, text in rows:
        found[name[len(cut) :]].append((obs_id, text))
    return found


def resolve(
    handles: Iterable[Handle], known: Mapping[int, Observation], decoded: dict[int, Observation]
) -> list[Observation]:
    """The observations; a payload is decoded once into ``decoded`` (by row id)."""
    found: list[Observation] = []
    for handle in handles:
        if isinstance(handle, int):
            found.append(known[handle])
            continue
        obs_id, payload = handle
        if obs_id not in decoded:
            decoded[obs_id] = decode(load_json(payload) if isinstance(payload, str) else payload)
        found.append(decoded[obs_id])
    return found


def _by_key(
    conn: Connection, pairs: Sequence[tuple[str, int]], known: Mapping[int, Observation]
) -> dict[str, list[Handle]]:
    """Handles grouped by key, ordered by row id; only the unknown payloads are read."""
    payload = observations.c.payload
    missing = sorted({obs_id for _, obs_id in pairs if obs_id not in known})
    loaded: dict[int, Mapping[str, Any] | str] = {}
    for chunk in chunks(missing):
        query = sa.select(observations.c.id, payload).where(observations.c.id.in_(chunk))
        loaded.update((obs_id, data) for obs_id, data in conn.execute(query))
    found: dict[str, list[Handle]] = defaultdict(list)
    for key, obs_id in sorted(pairs, key=lambda pair: pair[1]):
        found[key].append(obs_id if obs_id in known else (obs_id, loaded[obs_id]))
    return found


def read_snapshots(
    conn: Connection, scope_names: Mapping[int, tuple[str, str]]
) -> dict[tuple[str, str], Snapshot]:
    """Every current snapshot, observations by ref then digest. Run in one transaction."""
    heads = conn.execute(sa.select(snapshots)).all()
    found: dict[int, list[Observation]] = {row.scope_id: [] for row in heads}
    query = sa.select(observations.c.scope_id, observations.c.payload).order_by(
        observations.c.scope_id,
        bytewise(observations.c.ref, conn.dialect),
        observations.c.digest,
    )
    for scope_id, payload in conn.execute(query.execution_options(yield_per=2000)):
        found[scope_id].append(decode(payload))
    return {
        scope_names[row.scope_id]: snapshot_of(row, scope_names[row.scope_id], found[row.scope_id])
        for row in heads
    }


def snapshot_of(
    row: Any, key: tuple[str, str], items: Sequence[Observation], **more: Any
) -> Snapshot:
    return Snapshot(
        source=key[0],
        scope=key[1],
        nature=Nature(row.nature),
        read_at=row.read_at,
        observations=tuple(items) if isinstance(items, list) else items,
        findings=tuple(Finding.from_json(f) for f in row.findings),
        version=row.version,
        **more,
    )


def part_prints(conn: Connection, scope_id: int) -> dict[str, str]:
    return dict(
        conn.execute(
            sa.select(snapshot_parts.c.part, snapshot_parts.c.fingerprint).where(
                snapshot_parts.c.scope_id == scope_id
            )
        ).all()
    )


def scope_observations(
    conn: Connection, scope_id: int, parts: Iterable[str] | None = None
) -> list[Observation]:
    """A scope's stored observations (of some parts only), by ref then digest."""
    query = (
        sa.select(observations.c.payload)
        .where(observations.c.scope_id == scope_id)
        .order_by(observations.c.ref, observations.c.digest)
    )
    if parts is None:
        return [decode(p) for p in conn.execute(query).scalars()]
    found: list[Observation] = []
    for chunk in chunks(sorted(set(parts))):
        found.extend(
            decode(p) for p in conn.execute(query.where(observations.c.part.in_(chunk))).scalars()
        )
    return found
