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
4. entities that appeared or went away, or turned refused by Backstage's rules or
   served again, make the entities that name them in a relation (``r:`` terms) dirty
   too, and those are assembled in a second round. Whether a target of the same
   run is refused is predicted from its stored row (:mod:`trueup.store.assembly`);
   an entity of the commit that named one predicted wrongly is rewritten as its
   creation when the commit created it (a cold sync), else steps 3 and 4 run
   again from a savepoint, told what the first attempt found;
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
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trueup.assemble.assembler import (
    RULES,
    AssemblyPolicy,
    finding_ref,
    held_findings,
    loose_findings,
)
from trueup.config_model import CheckConfig
from trueup.errors import KeptPartChangedError
from trueup.model.finding import Finding
from trueup.model.observation import Nature, Observation, ScopeFailure, Snapshot
from trueup.model.ref import EntityRef
from trueup.model.repository import Head, TrackedBranch
from trueup.store import observations as rows
from trueup.store.assembly import BatchAssembler
from trueup.store.engine import json_text
from trueup.store.entities import EntityWriter, created_in
from trueup.store.invalidation import (
    Dirty,
    all_refs,
    dependents,
    mark_failures,
    mark_holds,
    mark_moved_heads,
    mark_scheduled,
    relink,
)
from trueup.store.records import CommitSummary
from trueup.store.schema import (
    assembly_state,
    entities,
    findings,
    observation_terms,
    observations,
    scopes,
    snapshots,
)

log = logging.getLogger(__name__)

ScopeKey = tuple[str, str]


@dataclass(frozen=True)
class CommitRequest:
    """Everything an incremental commit needs besides the reads."""

    policy: AssemblyPolicy
    now: datetime
    accepted: frozenset[str] = frozenset()  # source ids and source/scope names
    max_ratio: float = 0.5
    failed: Mapping[ScopeKey, str] = field(default_factory=dict)  # failures in force
    carried_held: Mapping[ScopeKey, frozenset[EntityRef]] = field(default_factory=dict)
    # The refs whose removal the last commit held, by scope: they stay held while absent.
    held_before: Mapping[ScopeKey, frozenset[EntityRef]] = field(default_factory=dict)
    scope_findings: Sequence[Finding] = ()  # failures and holds of scopes, not from the guard
    # The stored snapshot each read was made against (``StoredParts.token``):
    # its kept parts need no checking while it is still the stored one.
    bases: Mapping[ScopeKey, str] = field(default_factory=dict)
    tracked: Mapping[str, TrackedBranch] = field(default_factory=dict)  # source id -> its branch
    workers: int = 1  # processes that assemble a large set of entities (parallel.py)


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
    # Wall seconds of its parts (trueup.timings): "apply", applying the reads, then
    # "assemble", assembling and writing what they changed.
    seconds: Mapping[str, float] = field(default_factory=dict)


@dataclass
class Applied:
    """What applying a commit's reads did, before anything is assembled."""

    dirty: Dirty
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
    held_before: Mapping[ScopeKey, frozenset[EntityRef]] | None = None,
) -> Applied:
    """Apply every successful read to its scope and link what it added.

    ``accepted`` None accepts every removal (the from-scratch path guards
    before it commits).
    """
    state = _load_state(conn)
    applied = Applied(Dirty(), dict(carried_held), everything=bool(state.get("rebuild")))
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
                held_before=(held_before or {}).get(key, frozenset()),
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
        for (obs_id, observation), terms in zip(change.added, change.added_terms, strict=True):
            applied.written[obs_id] = observation
            if observation.nature is Nature.INTENT:
                applied.dirty.intent(observation, terms)
            else:
                applied.relink.append((obs_id, observation))
        if [f.to_json() for f in read.findings] != before:
            applied.dirty.findings(Finding.from_json(f) for f in before)
            applied.dirty.findings(read.findings)
    relink(conn, applied.relink, applied.dirty, applied.everything, known=applied.written)
    return applied


def forget_assembly(conn: Connection) -> None:
    """After a from-scratch commit: the next incremental one assembles every entity."""
    state = _load_state(conn)
    state["policy"] = None
    _save_state(conn, state)


# Attempts of a commit's assembly: the second knows every refusal the first found (a
# refusal never depends on relations), so a third never runs but as a bound.
ATTEMPTS = 3


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
    started = time.perf_counter()
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
        held_before=request.held_before,
    )
    dirty, held, everything = applied.dirty, applied.held, applied.everything
    applied_at = time.perf_counter()
    guard_findings = applied.guard_findings
    current = _current_snapshots(conn)
    heads = _heads(current, request.tracked)
    actual_sources = any(nature == Nature.ACTUAL.value for nature, _ in current.values())
    fingerprint = policy_fingerprint(request.policy)
    if state.get("policy") != fingerprint or state.get("actual_sources") != actual_sources:
        everything = True

    if not everything:
        mark_moved_heads(conn, dirty, state.get("heads") or {}, heads)
        mark_failures(conn, dirty, state.get("failed") or {}, request.failed, scope_ids)
        mark_holds(dirty, state.get("held") or {}, held)
        mark_scheduled(conn, dirty, request.now)

    all_findings = _all_snapshot_findings(conn)
    extra: dict[EntityRef, list[Finding]] = defaultdict(list)
    for f in all_findings:
        target = finding_ref(f)
        if target is not None:
            extra[target].append(f)
    for ref, f in held_findings(held):
        extra[ref].append(f)

    refs, observed = all_refs(conn) if everything else (dirty.refs, None)
    learned: dict[EntityRef, bool] = {}
    for attempt in range(ATTEMPTS):
        savepoint = conn.begin_nested()
        assembler = BatchAssembler(
            conn,
            request.policy,
            now=request.now,
            failed=request.failed,
            extra=extra,
            actual_sources=actual_sources,
            heads=heads,
            writer=EntityWriter(conn, run_id=run_id, now=request.now, cause=cause),
            known=applied.written,
            workers=request.workers,
            learned=learned,
        )
        assembled = _assemble(conn, assembler, refs, observed, everything=everything)
        wrong = _told_wrongly(conn, assembler, assembled)
        if wrong and created_in(conn, run_id, wrong) == wrong:
            # All of them created by this commit (a cold sync): each is rewritten as its
            # creation, told what this attempt found; nothing else changes with them.
            learned.update(assembler.surprises)
            assembler.surprises.clear()
            assembler.run(wrong, amend=True)
            log.info(
                "%d new entities named a target that turned out refused or served; rewritten",
                len(wrong),
            )
            wrong = _told_wrongly(conn, assembler, assembled)
        if not wrong or attempt == ATTEMPTS - 1:
            if wrong:  # a refusal that depends on relations: not one of trueup's rules
                log.warning(
                    "%d entities may name a target refused or served otherwise than their"
                    " dangling-ref findings say, after %d attempts",
                    len(wrong),
                    ATTEMPTS,
                )
            savepoint.commit()
            break
        # An entity of the commit named a ref whose refusal it was told wrongly: all is
        # assembled again, told what this attempt found (which does not depend on relations).
        savepoint.rollback()
        learned.update(assembler.surprises)
        log.info(
            "%d entities named a target that turned out refused or served; assembling the"
            " commit's %d refs again",
            len(wrong),
            len(refs),
        )

    # As assemble(): a source's finding about an entity is that entity's alone; about a
    # ref that is no entity now, it belongs to no entity.
    live = _live(conn, extra.keys())
    owned = [f for f in all_findings if (target := finding_ref(f)) is None or target not in live]
    loose = loose_findings([*request.scope_findings, *guard_findings, *owned], request.policy)
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
        seconds={"apply": applied_at - started, "assemble": time.perf_counter() - applied_at},
    )


def _told_wrongly(
    conn: Connection, assembler: BatchAssembler, assembled: set[EntityRef]
) -> set[EntityRef]:
    """The entities assembled that name a ref whose refusal the runs predicted wrongly."""
    if not assembler.surprises:
        return set()
    return dependents(conn, assembler.surprises) & assembled


def _assemble(
    conn: Connection,
    assembler: BatchAssembler,
    refs: set[EntityRef],
    observed: set[EntityRef] | None,
    *,
    everything: bool,
) -> set[EntityRef]:
    """Assemble ``refs``, then the entities that name one that came, went, or turned
    refused or served (their relation checks change); returns every ref assembled.

    With ``everything``, every entity is among ``refs``: none is left to name them.
    """
    done = set(refs)
    moved = [ref for ref, _ in assembler.run(refs, observed)]
    while not everything:
        naming = dependents(conn, [*moved, *assembler.flipped]) - done
        if not naming:
            return done
        done |= naming
        moved = [ref for ref, _ in assembler.run(naming)]
    return done


def policy_fingerprint(policy: AssemblyPolicy) -> str:
    """Changes whenever the policy would assemble any entity differently.

    Also when trueup's own rules do (:data:`~trueup.assemble.assembler.RULES`): the first
    sync after an upgrade that changes them assembles every entity again, so no stored
    entity keeps what the old rules made of it until something else touches it.
    """
    data = {
        "trueup_rules": RULES,
        "rules": {k: list(v) for k, v in sorted(policy.precedence.rules.items())},
        "order": list(policy.precedence.source_order),
        "max_age": {k: v.total_seconds() if v else None for k, v in sorted(policy.max_age.items())},
        "feed_url": policy.feed_url,
        "public_url": policy.public_url,
        "severity": {k: v.value for k, v in sorted(policy.severity.items())},
        "checks": [[type(c).__qualname__, _settings(c)] for c in policy.checks],
        "emission": policy.emission.fingerprint,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _settings(check: object) -> str | None:
    """A check's own settings (``checks.<name>:``), when it keeps them as ``config``."""
    settings = getattr(check, "config", None)
    return settings.model_dump_json() if isinstance(settings, CheckConfig) else None


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
    current: Mapping[ScopeKey, tuple[str, str]], tracked: Mapping[str, TrackedBranch]
) -> dict[str, Head]:
    """The head of each branch a source tracks, as it last read it completely, by repository."""
    heads: dict[str, Head] = {}
    for source_id, branch in tracked.items():
        for (sid, _), (_, version) in sorted(current.items()):
            if sid == source_id and version:
                heads[branch.key] = Head(branch.branch, version)
    return heads


def _live(conn: Connection, refs: Iterable[EntityRef]) -> set[EntityRef]:
    """Those of ``refs`` that are current entities (not removed)."""
    wanted = sorted(set(refs))
    key = sa.tuple_(entities.c.kind, entities.c.namespace, entities.c.name)
    live: set[EntityRef] = set()
    for start in range(0, len(wanted), 500):
        chunk = [(r.kind, r.namespace, r.name) for r in wanted[start : start + 500]]
        query = sa.select(entities.c.kind, entities.c.namespace, entities.c.name).where(
            key.in_(chunk), entities.c.removed.is_(False)
        )
        live.update(EntityRef(*row) for row in conn.execute(query))
    return live


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
