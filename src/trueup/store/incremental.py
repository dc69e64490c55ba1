"""The incremental commit: assemble again only what a commit's reads changed (SPEC 8).

:meth:`trueup.store.store.Store.commit_reads` runs :func:`commit_reads` inside
its one write transaction (rule 6), after checking that no other commit landed
since the reads were based on. In order:

1. each read is applied to its scope's rows (:func:`~trueup.store.observations.apply_read`,
   removal guard included): only the parts a source did not keep are compared,
   by digest;
2. the *dirty* refs are collected: the refs of intent observations removed or
   added; the targets of actual observations removed, added or linked anew (an
   intent annotation such as ``backstage.io/kubernetes-id`` or a selector that
   appeared, changed or went away re-links the actual observations that name
   it); the refs that a scope's findings name; every entity of a scope whose
   failure state changed; the held refs; the entities whose ``expires_at`` has
   passed (freshness); the entities with an Argo CD place in a repository whose
   git head moved; everything when the policy, or whether any actual source
   exists, changed;
3. the dirty refs are assembled in batches with
   :func:`~trueup.assemble.assembler.assemble_entity` — the same function the
   from-scratch ``assemble()`` uses, on the same inputs — and written;
4. entities that appeared or went away make the entities that name them in a
   relation (``r:`` terms) dirty too, and those are assembled in a second round;
5. the findings that belong to no entity are rewritten, and the state the next
   commit compares against (policy fingerprint, heads, failures, holds) saved.

One difference from assembling from scratch, on purpose: the default fields of
a discovered entity (kind, name, "Discovered running…") have the provenance
``trueup:discovered`` stamped with the time of assembly. ``assemble()`` stamps
them on every run; here they keep the time of the assembly that last had a
reason to run, so a sync does not rewrite every discovered entity. Their
content, findings and revisions are the same either way.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trueup.assemble.assembler import (
    AssemblyPolicy,
    assemble_entity,
    failed_finding,
    finding_ref,
    held_findings,
    is_structural,
    loose_findings,
)
from trueup.assemble.linking import SELECTOR_ANNOTATIONS, Selector, link_targets, parse_selector
from trueup.checks import CheckContext
from trueup.errors import KeptPartChangedError
from trueup.model.assembled import AssembledEntity
from trueup.model.finding import Finding
from trueup.model.observation import Nature, Observation, ScopeFailure, Snapshot
from trueup.model.ref import EntityRef
from trueup.model.repository import Head, repository_key
from trueup.store import observations as rows
from trueup.store.engine import json_text
from trueup.store.entities import HEAD, RELATION, EntityWriter, expires_at
from trueup.store.observations import (
    ANNOTATION,
    LINK,
    SELECTOR,
    TARGET,
    stored_ref,
)
from trueup.store.records import Change, CommitSummary
from trueup.store.schema import (
    assembly_state,
    entities,
    entity_terms,
    findings,
    observation_terms,
    observations,
    scopes,
    snapshots,
)

ScopeKey = tuple[str, str]
BATCH = 2000


@dataclass(frozen=True)
class CommitRequest:
    """Everything an incremental commit needs besides the reads."""

    policy: AssemblyPolicy
    now: datetime
    accepted: frozenset[str] = frozenset()  # source ids and source/scope names
    max_ratio: float = 0.5
    failed: Mapping[ScopeKey, str] = field(default_factory=dict)  # failures in force
    carried_held: Mapping[ScopeKey, frozenset[EntityRef]] = field(default_factory=dict)
    scope_findings: Sequence[Finding] = ()  # failures and holds of scopes, not from the guard
    # The stored snapshot each read was made against (``StoredParts.token``):
    # its kept parts need no checking while it is still the stored one.
    bases: Mapping[ScopeKey, str] = field(default_factory=dict)
    git_sources: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # id -> url, branch


@dataclass
class CommitResult:
    summary: CommitSummary
    held: dict[ScopeKey, frozenset[EntityRef]]
    guard_findings: list[Finding]
    superseded: list[ScopeKey]  # reads that kept parts stored differently meanwhile
    entities: int
    fresh_until: datetime | None
    assembled: int  # how many entities were assembled
    revised: tuple[EntityRef, ...] = ()  # entities that got a revision (created … removed)


@dataclass
class Applied:
    """What applying a commit's reads did, before anything is assembled."""

    dirty: _Dirty
    held: dict[ScopeKey, frozenset[EntityRef]]
    guard_findings: list[Finding] = field(default_factory=list)
    superseded: list[ScopeKey] = field(default_factory=list)
    relink: list[tuple[int, Observation]] = field(default_factory=list)
    written: dict[int, Observation] = field(default_factory=dict)  # rows added, by id
    replaced: int = 0
    unchanged: int = 0
    everything: bool = False  # the index was rebuilt: assemble every entity


def apply_reads(
    conn: Connection,
    run_id: int,
    reads: Sequence[Snapshot | ScopeFailure],
    *,
    scope_ids: Mapping[ScopeKey, int],
    accepted: frozenset[str] | None,
    max_ratio: float,
    carried_held: Mapping[ScopeKey, frozenset[EntityRef]],
    bases: Mapping[ScopeKey, str] | None = None,
) -> Applied:
    """Apply every successful read to its scope and link what it added.

    ``accepted`` None accepts every removal (the from-scratch path guards
    before it commits).
    """
    state = _load_state(conn)
    applied = Applied(_Dirty(), dict(carried_held), everything=bool(state.get("rebuild")))
    if applied.everything:
        _rebuild(conn)
    for read in reads:
        if isinstance(read, ScopeFailure):
            continue
        key = (read.source, read.scope)
        before = _snapshot_findings(conn, scope_ids[key])
        try:
            change = rows.apply_read(
                conn,
                run_id,
                scope_ids[key],
                read,
                accepted=accepted is None
                or read.source in accepted
                or f"{read.source}/{read.scope}" in accepted,
                max_ratio=max_ratio,
                base=(bases or {}).get(key),
            )
        except KeptPartChangedError:
            applied.superseded.append(key)
            continue
        applied.replaced += change.rewritten
        applied.unchanged += not change.rewritten
        if change.finding is not None:
            applied.held[key] = change.held
            applied.guard_findings.append(change.finding)
        else:
            applied.held.pop(key, None)
        applied.dirty.removed_rows(change.removed, change.removed_terms)
        for obs_id, item in change.added:
            applied.written[obs_id] = item.observation
            if item.observation.nature is Nature.INTENT:
                applied.dirty.intent(item.observation)
            else:
                applied.relink.append((obs_id, item.observation))
        if [f.to_json() for f in read.findings] != before:
            applied.dirty.findings(Finding.from_json(f) for f in before)
            applied.dirty.findings(read.findings)
    _retarget(conn, applied.relink, applied.dirty, applied.everything)
    return applied


def forget_assembly(conn: Connection) -> None:
    """After a from-scratch commit: the next incremental one assembles every entity."""
    state = _load_state(conn)
    state["policy"] = None
    _save_state(conn, state)


def commit_reads(
    conn: Connection,
    run_id: int,
    reads: Sequence[Snapshot | ScopeFailure],
    request: CommitRequest,
    *,
    scope_ids: Mapping[ScopeKey, int],
    cause: str,
) -> CommitResult:
    """Apply the reads and assemble what they changed; see the module docstring."""
    state = _load_state(conn)
    applied = apply_reads(
        conn,
        run_id,
        reads,
        scope_ids=scope_ids,
        accepted=request.accepted,
        max_ratio=request.max_ratio,
        carried_held=request.carried_held,
        bases=request.bases,
    )
    dirty, held, everything = applied.dirty, applied.held, applied.everything
    guard_findings = applied.guard_findings
    current = _current_snapshots(conn)
    heads = _heads(current, request.git_sources)
    actual_sources = any(nature == Nature.ACTUAL.value for nature, _ in current.values())
    fingerprint = policy_fingerprint(request.policy)
    if state.get("policy") != fingerprint or state.get("actual_sources") != actual_sources:
        everything = True

    if not everything:
        _mark_moved_heads(conn, dirty, state.get("heads") or {}, heads)
        _mark_failures(conn, dirty, state.get("failed") or {}, request.failed, scope_ids)
        _mark_holds(dirty, state.get("held") or {}, held)
        _mark_scheduled(conn, dirty, request.now)

    all_findings = _all_snapshot_findings(conn)
    extra: dict[EntityRef, list[Finding]] = defaultdict(list)
    for f in all_findings:
        target = finding_ref(f)
        if target is not None:
            extra[target].append(f)
    for ref, f in held_findings(held):
        extra[ref].append(f)

    refs = _all_refs(conn) if everything else dirty.refs
    assembler = _Assembler(
        conn,
        request,
        extra,
        actual_sources=actual_sources,
        heads=heads,
        writer=EntityWriter(conn, run_id=run_id, now=request.now, cause=cause),
        known=applied.written,
    )
    moved = assembler.run(refs)
    dependents = _dependents(conn, [ref for ref, _ in moved]) - refs
    if dependents:
        assembler.run(dependents)

    loose = loose_findings(
        [*request.scope_findings, *guard_findings, *all_findings], request.policy
    )
    _write_loose(conn, loose)
    _save_state(
        conn,
        {
            "policy": fingerprint,
            "actual_sources": actual_sources,
            "heads": {k: [h.branch, h.commit] for k, h in sorted(heads.items())},
            "failed": {f"{s}\0{c}": m for (s, c), m in sorted(request.failed.items())},
            "held": {f"{s}\0{c}": sorted(map(str, r)) for (s, c), r in sorted(held.items())},
            "rebuild": False,
        },
    )
    summary = assembler.writer.summary()
    fresh = conn.execute(
        sa.select(sa.func.min(entities.c.expires_at)).where(entities.c.removed.is_(False))
    ).scalar()
    count = conn.execute(
        sa.select(sa.func.count()).select_from(entities).where(entities.c.removed.is_(False))
    ).scalar_one()
    return CommitResult(
        summary=replace(
            summary, snapshots_replaced=applied.replaced, snapshots_unchanged=applied.unchanged
        ),
        held=held,
        guard_findings=guard_findings,
        superseded=applied.superseded,
        entities=int(count),
        fresh_until=_aware(fresh),
        assembled=assembler.assembled,
        revised=tuple(assembler.writer.revised),
    )


def policy_fingerprint(policy: AssemblyPolicy) -> str:
    """Changes whenever the policy would assemble any entity differently."""
    data = {
        "rules": {k: list(v) for k, v in sorted(policy.precedence.rules.items())},
        "order": list(policy.precedence.source_order),
        "max_age": {k: v.total_seconds() if v else None for k, v in sorted(policy.max_age.items())},
        "feed_url": policy.feed_url,
        "public_url": policy.public_url,
        "required": {k: list(v) for k, v in sorted(policy.required_fields.items())},
        "severity": {k: v.value for k, v in sorted(policy.severity.items())},
        "checks": [type(c).__qualname__ for c in policy.checks],
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


# --- what is dirty -------------------------------------------------------------------


class _Dirty:
    """The refs to assemble again, and the link keys whose declared entities changed."""

    def __init__(self) -> None:
        self.refs: set[EntityRef] = set()
        self.pairs: set[str] = set()  # "key=value" of intent annotations added or removed
        self.selector_keys: set[str] = set()

    def intent(self, observation: Observation) -> None:
        if is_structural(observation.ref):
            return
        self.refs.add(observation.ref)
        for term in rows.terms_of(observation):
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
        key = pair.partition("=")[0]
        if key in SELECTOR_ANNOTATIONS:
            self.selector_keys.add(key)


def _retarget(
    conn: Connection,
    added: Sequence[tuple[int, Observation]],
    dirty: _Dirty,
    everything: bool,
) -> None:
    """Link new actual observations, and re-link those whose link keys changed."""
    todo: dict[int, Observation] = dict(added)
    fresh = set(todo)
    old: dict[int, list[str]] = defaultdict(list)
    terms = [LINK + p for p in dirty.pairs] + [SELECTOR + k for k in dirty.selector_keys]
    if everything:
        query = sa.select(observations.c.id, observations.c.payload).where(
            observations.c.nature == Nature.ACTUAL.value
        )
        todo.update((i, rows.decode(p)) for i, p in conn.execute(query))
    else:
        for chunk in rows.chunks(sorted(terms)):
            query = (
                sa.select(observations.c.id, observations.c.payload)
                .join(observation_terms, observation_terms.c.observation_id == observations.c.id)
                .where(observation_terms.c.term.in_(chunk))
            )
            todo.update((i, rows.decode(p)) for i, p in conn.execute(query))
    stored = [i for i in todo if i not in fresh]
    for chunk in rows.chunks(sorted(stored)):
        query = sa.select(observation_terms.c.observation_id, observation_terms.c.term).where(
            observation_terms.c.observation_id.in_(chunk),
            observation_terms.c.term.like(TARGET + "%"),
        )
        for obs_id, term in conn.execute(query):
            old[obs_id].append(term)
    lookup = _LinkLookup(conn)
    lookup.prefetch(todo.values())
    changed: list[int] = []
    inserts: list[dict[str, Any]] = []
    for obs_id, observation in todo.items():
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
        conn.execute(sa.insert(observation_terms), inserts)


class _LinkLookup:
    """The declared entities' annotations, read from the ``a:`` terms (see ``linking``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pairs: dict[tuple[str, str], tuple[EntityRef, ...]] = {}
        self.selectors: dict[str, tuple[tuple[EntityRef, Selector], ...]] = {}

    def prefetch(self, items: Iterable[Observation]) -> None:
        pairs = {pair for o in items for pair in o.links} - set(self.pairs)
        keys = {key for o in items for key in o.selectors} - set(self.selectors)
        found: dict[tuple[str, str], set[EntityRef]] = {pair: set() for pair in pairs}
        wanted = {f"{ANNOTATION}{k}={v}": (k, v) for k, v in pairs}
        for chunk in rows.chunks(sorted(wanted)):
            for term, ref in self._refs_with(observation_terms.c.term.in_(chunk)):
                found[wanted[term]].add(stored_ref(ref))
        self.pairs.update({pair: tuple(sorted(refs)) for pair, refs in found.items()})
        for key in keys:
            self.selectors[key] = self._selectors(key)

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
        condition = observation_terms.c.term.like(_escape(prefix) + "%", escape="\\")
        for term, ref in self._refs_with(condition):
            if not term.startswith(prefix):
                continue
            selector = parse_selector(term[len(prefix) :])
            if selector is not None:
                entries.append((stored_ref(ref), selector))
        return tuple(sorted(entries, key=lambda item: item[0]))

    def _refs_with(self, condition: sa.ColumnElement[bool]) -> Iterator[tuple[str, str]]:
        query = (
            sa.select(observation_terms.c.term, observations.c.ref)
            .join(observations, observations.c.id == observation_terms.c.observation_id)
            .where(condition)
        )
        yield from ((term, ref) for term, ref in self.conn.execute(query))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _mark_moved_heads(
    conn: Connection, dirty: _Dirty, before: Mapping[str, list[str]], now: Mapping[str, Head]
) -> None:
    moved = {
        key
        for key in set(before) | set(now)
        if (now[key].branch, now[key].commit) != tuple(before.get(key, ("", "")))
        if key in now
    } | (set(before) - set(now))
    dirty.refs.update(_entities_with(conn, [HEAD + key for key in moved]))


def _mark_failures(
    conn: Connection,
    dirty: _Dirty,
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


def _mark_holds(
    dirty: _Dirty, before: Mapping[str, list[str]], now: Mapping[ScopeKey, frozenset[EntityRef]]
) -> None:
    old = {_key(k): {stored_ref(r) for r in refs} for k, refs in before.items()}
    for key in set(old) | set(now):
        was, held = old.get(key, set()), set(now.get(key, frozenset()))
        if was != held:
            dirty.refs.update(was | held)


def _key(text: str) -> ScopeKey:
    source, _, scope = text.partition("\0")
    return (source, scope)


def _mark_scheduled(conn: Connection, dirty: _Dirty, now: datetime) -> None:
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


def _dependents(conn: Connection, moved: Collection[EntityRef]) -> set[EntityRef]:
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


def _all_refs(conn: Connection) -> set[EntityRef]:
    """Every ref that is or was an entity, and every ref observations now make one."""
    found = {
        EntityRef(*row)
        for row in conn.execute(
            sa.select(entities.c.kind, entities.c.namespace, entities.c.name).where(
                entities.c.removed.is_(False)
            )
        )
    }
    intent = sa.select(observations.c.ref).where(observations.c.nature == Nature.INTENT.value)
    found.update(
        ref
        for ref in map(stored_ref, conn.execute(intent.distinct()).scalars())
        if not is_structural(ref)
    )
    targets = sa.select(observation_terms.c.term).where(observation_terms.c.term.like(TARGET + "%"))
    found.update(stored_ref(t[len(TARGET) :]) for t in conn.execute(targets.distinct()).scalars())
    return found


# --- assembling ----------------------------------------------------------------------


class _Assembler:
    """Assembles refs batch by batch from their stored observations and writes them."""

    def __init__(
        self,
        conn: Connection,
        request: CommitRequest,
        extra: Mapping[EntityRef, list[Finding]],
        *,
        actual_sources: bool,
        heads: Mapping[str, Head],
        writer: EntityWriter,
        known: Mapping[int, Observation],
    ) -> None:
        self.conn = conn
        self.known = known
        self.request = request
        self.extra = extra
        self.actual_sources = actual_sources
        self.heads = heads
        self.writer = writer
        self.assembled = 0
        self.present: dict[EntityRef, bool] = {}

    def run(self, refs: Collection[EntityRef]) -> list[tuple[EntityRef, Change]]:
        ordered = sorted(refs)
        self._presence(ordered)
        context = CheckContext(
            refs=_Present(self._exists),
            required_fields=self.request.policy.required_fields,
            actual_sources=self.actual_sources,
            heads=self.heads,
        )
        moved: list[tuple[EntityRef, Change]] = []
        for batch in rows.chunks(ordered, BATCH):
            names = [str(ref) for ref in batch]
            intent = rows.intent_of(self.conn, names, self.known)
            actual = rows.actual_of(self.conn, names, self.known)
            done: list[tuple[AssembledEntity, datetime | None]] = []
            absent: list[EntityRef] = []
            for ref, name in zip(batch, names, strict=True):
                mine = [o for o in intent.get(name, ()) if not is_structural(o.ref)]
                theirs = actual.get(name, [])
                if not mine and not theirs:
                    absent.append(ref)
                    continue
                entity = assemble_entity(
                    ref,
                    _ordered(mine),
                    _ordered(theirs),
                    self._extra(ref, mine, theirs),
                    self.request.policy,
                    context,
                    self.request.now,
                )
                done.append((entity, expires_at(entity, self.request.policy.max_age)))
            self.assembled += len(done)
            moved.extend(self.writer.write(done, absent))
        return moved

    def _extra(
        self, ref: EntityRef, intent: Sequence[Observation], actual: Sequence[Observation]
    ) -> list[Finding]:
        found = list(self.extra.get(ref, ()))
        failed = self.request.failed
        keys = {
            (o.provenance.source, o.provenance.scope)
            for o in (*intent, *actual)
            if (o.provenance.source, o.provenance.scope) in failed
        }
        found.extend(failed_finding(ref, s, c, failed[(s, c)]) for s, c in sorted(keys))
        return found

    def _presence(self, refs: Sequence[EntityRef]) -> None:
        """Whether each ref has observations that make it an entity now."""
        names = [str(ref) for ref in refs]
        have: set[str] = set()
        for chunk in rows.chunks(names):
            intent = sa.select(observations.c.ref).where(
                observations.c.nature == Nature.INTENT.value, observations.c.ref.in_(chunk)
            )
            have.update(conn_refs for conn_refs in self.conn.execute(intent.distinct()).scalars())
            targets = sa.select(observation_terms.c.term).where(
                observation_terms.c.term.in_([TARGET + n for n in chunk])
            )
            have.update(t[len(TARGET) :] for t in self.conn.execute(targets.distinct()).scalars())
        for ref, name in zip(refs, names, strict=True):
            self.present[ref] = name in have and not is_structural(ref)

    def _exists(self, ref: EntityRef) -> bool:
        if ref not in self.present:
            self.present[ref] = (
                self.conn.execute(
                    sa.select(entities.c.id).where(
                        entities.c.kind == ref.kind,
                        entities.c.namespace == ref.namespace,
                        entities.c.name == ref.name,
                        entities.c.removed.is_(False),
                    )
                ).first()
                is not None
            )
        return self.present[ref]


class _Present(frozenset[EntityRef]):
    """``context.refs`` of an incremental commit: membership answered from the store."""

    def __new__(cls, exists: Any) -> _Present:
        made = super().__new__(cls)
        made._exists = exists  # type: ignore[attr-defined]
        return made

    def __contains__(self, item: object) -> bool:
        return isinstance(item, EntityRef) and bool(self._exists(item))  # type: ignore[attr-defined]


def _ordered(items: Sequence[Observation]) -> list[Observation]:
    """The order ``assemble()`` sees: by source and scope, then as stored."""
    return sorted(items, key=lambda o: (o.provenance.source, o.provenance.scope))


# --- small reads and writes ----------------------------------------------------------


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _load_state(conn: Connection) -> dict[str, Any]:
    return dict(conn.execute(sa.select(assembly_state.c.key, assembly_state.c.value)).all())


def _save_state(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(sa.delete(assembly_state))
    conn.execute(sa.insert(assembly_state), [{"key": k, "value": v} for k, v in values.items()])


def _snapshot_findings(conn: Connection, scope_id: int) -> list[Any]:
    found = conn.execute(
        sa.select(snapshots.c.findings).where(snapshots.c.scope_id == scope_id)
    ).scalar()
    return list(found or [])


def _all_snapshot_findings(conn: Connection) -> list[Finding]:
    """Every stored snapshot's findings, in the order ``assemble()`` sees them."""
    query = (
        sa.select(snapshots.c.findings)
        .join(scopes, scopes.c.id == snapshots.c.scope_id)
        .order_by(scopes.c.source, scopes.c.scope)
    )
    return [Finding.from_json(f) for items in conn.execute(query).scalars() for f in items]


def _current_snapshots(conn: Connection) -> dict[ScopeKey, tuple[str, str]]:
    query = sa.select(
        scopes.c.source, scopes.c.scope, snapshots.c.nature, snapshots.c.version
    ).join(snapshots, snapshots.c.scope_id == scopes.c.id)
    return {(s, c): (nature, version) for s, c, nature, version in conn.execute(query)}


def _heads(
    current: Mapping[ScopeKey, tuple[str, str]], git_sources: Mapping[str, tuple[str, str]]
) -> dict[str, Head]:
    """The branch head each git source last read completely, by repository."""
    heads: dict[str, Head] = {}
    for source_id, (url, branch) in git_sources.items():
        for (sid, _), (_, version) in sorted(current.items()):
            if sid == source_id and version:
                heads[repository_key(url)] = Head(branch, version)
    return heads


def _scope_id(conn: Connection, key: ScopeKey) -> int | None:
    found = conn.execute(
        sa.select(scopes.c.id).where(scopes.c.source == key[0], scopes.c.scope == key[1])
    ).scalar()
    return int(found) if found is not None else None


def _write_loose(conn: Connection, loose: Sequence[Finding]) -> None:
    conn.execute(sa.delete(findings).where(findings.c.entity_id.is_(None)))
    if loose:
        conn.execute(
            sa.insert(findings),
            [
                {
                    "entity_id": None,
                    "subject": f.subject,
                    "code": f.code,
                    "severity": f.severity.value,
                    "message": f.message,
                    "evidence": dict(f.evidence),
                }
                for f in loose
            ],
        )


def _rebuild(conn: Connection) -> None:
    """After a migration: digests and index terms for every stored observation."""
    conn.execute(sa.delete(observation_terms))
    query = sa.select(observations.c.id, observations.c.payload)
    updates: list[dict[str, Any]] = []
    terms: list[dict[str, Any]] = []
    for obs_id, payload in conn.execute(query).all():
        observation = rows.decode(payload)
        text = json_text(observation.to_json(), canonical=True)
        updates.append({"oid": obs_id, "digest": hashlib.sha256(text.encode()).hexdigest()})
        terms.extend({"observation_id": obs_id, "term": t} for t in rows.terms_of(observation))
    if updates:
        conn.execute(
            sa.update(observations).where(observations.c.id == sa.bindparam("oid")), updates
        )
    if terms:
        conn.execute(sa.insert(observation_terms), terms)
