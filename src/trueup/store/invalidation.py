"""What an incremental commit must assemble again: the dirty refs, and re-linking.

Called by :mod:`trueup.store.incremental` inside the commit transaction.
:class:`Dirty` collects refs from the rows a commit removed and added;
:func:`relink` links new actual observations to entities and re-links the
stored ones whose link keys changed (an intent annotation or selector that
appeared, changed or went away), through the ``observation_terms`` index and
:func:`trueup.assemble.linking.link_targets` — the function ``assemble()``
links with; the ``mark_*`` functions add the entities whose checks depend on
something else that moved (git heads, scope failures, held removals, the
freshness schedule), and :func:`dependents` the entities that name a ref
which appeared or went away.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trueup.assemble.assembler import finding_ref, is_structural
from trueup.assemble.linking import Selector, link_targets, parse_selector
from trueup.model.finding import Finding
from trueup.model.observation import Nature, Observation
from trueup.model.ref import EntityRef
from trueup.model.repository import Head
from trueup.store import observations as rows
from trueup.store.bulk import insert_rows
from trueup.store.encoded import HEAD, RELATION
from trueup.store.observations import ANNOTATION, LINK, SELECTOR, TARGET, stored_ref
from trueup.store.schema import entities, entity_terms, observation_terms, observations, scopes

ScopeKey = tuple[str, str]


class Dirty:
    """The refs to assemble again, and the link keys whose declared entities changed."""

    def __init__(self) -> None:
        self.refs: set[EntityRef] = set()
        self.pairs: set[str] = set()  # "key=value" of intent annotations added or removed
        self.selector_keys: set[str] = set()

    def intent(self, observation: Observation, terms: Sequence[str] | None = None) -> None:
        """An intent observation added or removed; ``terms`` its :func:`rows.terms_of`,
        when known."""
        if is_structural(observation.ref):
            return
        self.refs.add(observation.ref)
        for term in rows.terms_of(observation) if terms is None else terms:
            self._annotation(term)

    def removed_rows(
        self, removed: Sequence[rows.StoredRow], terms: Mapping[int, list[str]]
    ) -> None:
        for row in removed:
            ref = stored_ref(row.ref)
            if row.nature == Nature.INTENT.value and not is_structural(ref):
                self.refs.add(ref)
            for term in terms.get(row.id, ()):
                if term.startswith(TARGET):
                    self.refs.add(stored_ref(term[len(TARGET) :]))
                elif term.startswith(ANNOTATION):
                    self._annotation(term)

    def findings(self, findings: Iterable[Finding]) -> None:
        for f in findings:
            target = finding_ref(f)
            if target is not None:
                self.refs.add(target)

    def _annotation(self, term: str) -> None:
        pair = term[len(ANNOTATION) :]
        self.pairs.add(pair)
        # Any annotation may hold a selector: a mapping's link_selectors name the keys.
        self.selector_keys.add(pair.partition("=")[0])


def relink(
    conn: Connection,
    added: Sequence[tuple[int, Observation]],
    dirty: Dirty,
    everything: bool,
    known: Mapping[int, Observation] | None = None,
) -> None:
    """Link new actual observations, and re-link those whose link keys changed.

    ``known``: the rows this commit wrote, by id (the declared entities' refs are
    taken from them rather than read back: a first sync wrote them all).

    Batch by batch (:data:`RELINK_BATCH` observations): when every intent changed (a
    policy change reads every file again) every stored actual observation is re-linked,
    and decoding them all at once held them all (a full re-read of the 100,000-entity
    world peaked at 1,311 MiB so, at 873 MiB batch by batch).
    """
    fresh = {obs_id for obs_id, _ in added}
    terms = [LINK + p for p in dirty.pairs] + [SELECTOR + k for k in dirty.selector_keys]
    # The rows to re-link: their ids first, then only the stored ones are read and
    # decoded (the rows just added are in memory already; a first sync adds them all).
    wanted: set[int] = set()
    if everything:
        query = sa.select(observations.c.id).where(observations.c.nature == Nature.ACTUAL.value)
        wanted.update(conn.execute(query).scalars())
    else:
        for chunk in rows.chunks(sorted(terms)):
            query = sa.select(observation_terms.c.observation_id).where(
                observation_terms.c.term.in_(chunk)
            )
            wanted.update(conn.execute(query).scalars())
    selectors: dict[str, tuple[tuple[EntityRef, Selector], ...]] = {}  # shared by batches
    changed: list[int] = []
    inserts: list[dict[str, Any]] = []
    for batch in _relinked(conn, added, sorted(wanted - fresh)):
        old = _target_terms(conn, [obs_id for obs_id, _ in batch if obs_id not in fresh])
        lookup = _LinkLookup(conn, selectors, known)
        lookup.prefetch(observation for _, observation in batch)
        for obs_id, observation in batch:
            new = [TARGET + str(ref) for ref in link_targets(observation, lookup)]
            if new == old.get(obs_id, []):
                continue
            for term in (*old.get(obs_id, ()), *new):
                dirty.refs.add(stored_ref(term[len(TARGET) :]))
            if obs_id in old:
                changed.append(obs_id)
            inserts.extend({"observation_id": obs_id, "term": term} for term in new)
    for chunk in rows.chunks(sorted(changed)):
        conn.execute(
            sa.delete(observation_terms).where(
                observation_terms.c.observation_id.in_(chunk),
                observation_terms.c.term.like(TARGET + "%"),
            )
        )
    if inserts:
        insert_rows(conn, observation_terms, inserts)


RELINK_BATCH = 2000  # observations linked at once


def _relinked(
    conn: Connection, added: Sequence[tuple[int, Observation]], stored: Sequence[int]
) -> Iterator[Sequence[tuple[int, Observation]]]:
    """The observations to link, in batches: those just added, then the stored ones
    (by id), each batch of those read and decoded only when it is reached."""
    yield from rows.chunks(added, RELINK_BATCH)
    for ids in rows.chunks(stored, RELINK_BATCH):
        decoded: dict[int, Observation] = {}
        for chunk in rows.chunks(ids):
            query = sa.select(observations.c.id, observations.c.payload).where(
                observations.c.id.in_(chunk)
            )
            decoded.update((i, rows.decode(p)) for i, p in conn.execute(query))
        yield [(i, decoded[i]) for i in ids if i in decoded]


def _target_terms(conn: Connection, ids: Sequence[int]) -> dict[int, list[str]]:
    """The ``t:`` terms (the entities each observation is linked to) of stored rows."""
    old: dict[int, list[str]] = defaultdict(list)
    for chunk in rows.chunks(sorted(ids)):
        query = sa.select(observation_terms.c.observation_id, observation_terms.c.term).where(
            observation_terms.c.observation_id.in_(chunk),
            observation_terms.c.term.like(TARGET + "%"),
        )
        for obs_id, term in conn.execute(query):
            old[obs_id].append(term)
    return old


class _LinkLookup:
    """The declared entities' annotations, read from the ``a:`` terms (see ``linking``)."""

    def __init__(
        self,
        conn: Connection,
        selectors: dict[str, tuple[tuple[EntityRef, Selector], ...]] | None = None,
        known: Mapping[int, Observation] | None = None,
    ) -> None:
        self.conn = conn
        self.pairs: dict[tuple[str, str], tuple[EntityRef, ...]] = {}
        self.selectors = {} if selectors is None else selectors  # by key; few, kept
        self.known = {} if known is None else known  # rows of this commit, by id

    def prefetch(self, items: Iterable[Observation]) -> None:
        pairs = {pair for o in items for pair in o.links} - set(self.pairs)
        found: dict[tuple[str, str], set[EntityRef]] = {pair: set() for pair in pairs}
        wanted = {f"{ANNOTATION}{k}={v}": (k, v) for k, v in pairs}
        for chunk in rows.chunks(sorted(wanted)):
            for term, ref in self._refs_with(observation_terms.c.term.in_(chunk)):
                found[wanted[term]].add(stored_ref(ref))
        self.pairs.update({pair: tuple(sorted(refs)) for pair, refs in found.items()})
        # Selectors are read only when a link pair found nothing (``selectors_for``).

    def declared_with(self, pair: tuple[str, str]) -> tuple[EntityRef, ...]:
        if pair not in self.pairs:
            found = {
                stored_ref(ref)
                for _, ref in self._refs_with(
                    observation_terms.c.term == f"{ANNOTATION}{pair[0]}={pair[1]}"
                )
            }
            self.pairs[pair] = tuple(sorted(found))
        return self.pairs[pair]

    def selectors_for(self, key: str) -> tuple[tuple[EntityRef, Selector], ...]:
        if key not in self.selectors:
            self.selectors[key] = self._selectors(key)
        return self.selectors[key]

    def _selectors(self, key: str) -> tuple[tuple[EntityRef, Selector], ...]:
        prefix = f"{ANNOTATION}{key}="
        entries: list[tuple[EntityRef, Selector]] = []
        condition = _starting_with(self.conn, observation_terms.c.term, prefix)
        for term, ref in self._refs_with(condition):  # exactly the prefix's terms
            selector = parse_selector(term[len(prefix) :])
            if selector is not None:
                entries.append((stored_ref(ref), selector))
        return tuple(sorted(entries, key=lambda item: item[0]))

    def _refs_with(self, condition: sa.ColumnElement[bool]) -> Iterator[tuple[str, str]]:
        """Each term that meets ``condition``, with the ref of its observation.

        The terms come from their index alone; the refs of the rows this commit wrote
        from memory, the others' from their rows (a read of the table per row: about
        120,000 page reads in a cold sync of 100,000 entities, had it read them all).
        """
        query = sa.select(observation_terms.c.term, observation_terms.c.observation_id)
        found = self.conn.execute(query.where(condition)).all()
        refs = {i: str(self.known[i].ref) for _, i in found if i in self.known}
        stored = sorted({i for _, i in found} - refs.keys())
        for chunk in rows.chunks(stored):
            by_id = sa.select(observations.c.id, observations.c.ref).where(
                observations.c.id.in_(chunk)
            )
            refs.update((i, ref) for i, ref in self.conn.execute(by_id))
        yield from ((term, refs[i]) for term, i in found)


def _starting_with(
    conn: Connection, column: sa.ColumnElement[str], prefix: str
) -> sa.ColumnElement[bool]:
    """``column`` starts with ``prefix`` (not empty), exactly as ``str.startswith``.

    On SQLite, a range of the column's index: text compares there byte by byte, so the
    values that start with ``prefix`` are those from it up to it with its last
    character raised by one; its ``LIKE`` ignores case and no index serves it, so a
    selector key's lookup scanned every term (0.06 s at 100,000 entities, 0.0001 s
    as a range). Elsewhere ``LIKE``: a PostgreSQL database's collation may be a
    language's, in which that range is not the prefix's.
    """
    if conn.dialect.name == "sqlite":
        return sa.and_(column >= prefix, column < prefix[:-1] + chr(ord(prefix[-1]) + 1))
    return column.like(_escape(prefix) + "%", escape="\\")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def mark_moved_heads(
    conn: Connection, dirty: Dirty, before: Mapping[str, list[str]], now: Mapping[str, Head]
) -> None:
    """Entities deployed from a repository whose tracked head moved, appeared or went away.

    ``before`` is the saved state (repository key -> [branch, commit]); a head goes
    away when its source is no longer configured or tracks another url.
    """
    moved = set(before) - set(now)
    moved.update(key for key, head in now.items() if before.get(key) != [head.branch, head.commit])
    dirty.refs.update(_entities_with(conn, [HEAD + key for key in moved]))


def mark_failures(
    conn: Connection,
    dirty: Dirty,
    before: Mapping[str, str],
    now: Mapping[ScopeKey, str],
    scope_ids: Mapping[ScopeKey, int],
) -> None:
    old = {_key(k): v for k, v in before.items()}
    for key in set(old) | set(now):
        if old.get(key) == now.get(key):
            continue
        scope_id = scope_ids.get(key) or _scope_id(conn, key)
        if scope_id is not None:
            dirty.refs.update(_refs_of_scope(conn, scope_id))


def mark_holds(
    dirty: Dirty, before: Mapping[str, list[str]], now: Mapping[ScopeKey, frozenset[EntityRef]]
) -> None:
    old = {_key(k): {stored_ref(r) for r in refs} for k, refs in before.items()}
    for key in set(old) | set(now):
        was, held = old.get(key, set()), set(now.get(key, frozenset()))
        if was != held:
            dirty.refs.update(was | held)


def _key(text: str) -> ScopeKey:
    source, _, scope = text.partition("\0")
    return (source, scope)


def mark_scheduled(conn: Connection, dirty: Dirty, now: datetime) -> None:
    """Entities whose shown status expired since they were assembled (the schedule)."""
    expired = sa.select(entities.c.kind, entities.c.namespace, entities.c.name).where(
        entities.c.removed.is_(False), entities.c.expires_at < now
    )
    dirty.refs.update(EntityRef(*row) for row in conn.execute(expired))


def _entities_with(conn: Connection, terms: Sequence[str]) -> set[EntityRef]:
    found: set[EntityRef] = set()
    for chunk in rows.chunks(sorted(terms)):
        query = (
            sa.select(entities.c.kind, entities.c.namespace, entities.c.name)
            .join(entity_terms, entity_terms.c.entity_id == entities.c.id)
            .where(entity_terms.c.term.in_(chunk), entities.c.removed.is_(False))
        )
        found.update(EntityRef(*row) for row in conn.execute(query))
    return found


def dependents(conn: Connection, moved: Collection[EntityRef]) -> set[EntityRef]:
    """Entities that name one of ``moved`` in a relation: their checks change."""
    return _entities_with(conn, [RELATION + str(ref) for ref in moved])


def _refs_of_scope(conn: Connection, scope_id: int) -> set[EntityRef]:
    intent = sa.select(observations.c.ref).where(
        observations.c.scope_id == scope_id, observations.c.nature == Nature.INTENT.value
    )
    found = {stored_ref(ref) for ref in conn.execute(intent).scalars()}
    found = {ref for ref in found if not is_structural(ref)}
    targets = (
        sa.select(observation_terms.c.term)
        .join(observations, observations.c.id == observation_terms.c.observation_id)
        .where(observations.c.scope_id == scope_id, observation_terms.c.term.like(TARGET + "%"))
    )
    found.update(stored_ref(term[len(TARGET) :]) for term in conn.execute(targets).scalars())
    return found


def all_refs(conn: Connection) -> tuple[set[EntityRef], set[EntityRef]]:
    """Every ref that is or was an entity, and every ref observations now make one; and
    the latter alone (those with an intent observation or an actual one linked to them)."""
    found = {
        EntityRef(*row)
        for row in conn.execute(
            sa.select(entities.c.kind, entities.c.namespace, entities.c.name).where(
                entities.c.removed.is_(False)
            )
        )
    }
    intent = sa.select(observations.c.ref).where(observations.c.nature == Nature.INTENT.value)
    observed = {
        ref
        for ref in map(stored_ref, conn.execute(intent.distinct()).scalars())
        if not is_structural(ref)
    }
    targets = sa.select(observation_terms.c.term).where(
        _starting_with(conn, observation_terms.c.term, TARGET)
    )
    linked = conn.execute(targets.distinct()).scalars()
    observed.update(stored_ref(term[len(TARGET) :]) for term in linked)
    return found | observed, observed


def _scope_id(conn: Connection, key: ScopeKey) -> int | None:
    found = conn.execute(
        sa.select(scopes.c.id).where(scopes.c.source == key[0], scopes.c.scope == key[1])
    ).scalar()
    return int(found) if found is not None else None
