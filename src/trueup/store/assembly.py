"""Assembling dirty refs in batches from their stored observations, and writing them.

Called by :mod:`trueup.store.incremental` inside the commit transaction. Each
batch loads its refs' intent observations and the actual observations linked
to them (``t:`` terms; those this commit wrote are taken from memory), merges
each entity with :func:`trueup.assemble.assembler.assemble_entity` — the
function ``assemble()`` uses — encodes it (:mod:`trueup.store.encoded`), and
writes the batch through :class:`~trueup.store.entities.EntityWriter`.

With ``workers`` above 1, a run of more than one batch is assembled and
encoded in forked processes (:mod:`trueup.parallel`): this process
reads each batch's inputs and writes each result, in the batches' order, so
the rows written are the same as with one process.

A relation check asks whether its target is refused by Backstage's rules
(``CheckContext.refused``), which is known for a ref of the run only once it is
assembled. A run predicts it from the stored rows (:func:`unserved`) or
from what an earlier attempt of the commit found (``learned``), and records
where the outcome differs from the prediction (:attr:`BatchAssembler.surprises`)
and from the ref's stored row (:attr:`BatchAssembler.flipped`); the commit
(:mod:`trueup.store.incremental`) assembles again whatever that concerns.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trueup.assemble.assembler import (
    AssemblyPolicy,
    assemble_entity,
    failed_finding,
    is_structural,
)
from trueup.checks import CheckContext
from trueup.model.emission import EmissionPolicy
from trueup.model.finding import Code, Finding
from trueup.model.observation import Nature, Observation
from trueup.model.ref import EntityRef
from trueup.model.repository import Head
from trueup.parallel import ordered_map
from trueup.store import observations as rows
from trueup.store.encoded import Encoded, encode_entity
from trueup.store.entities import EntityWriter
from trueup.store.observations import TARGET, Handle
from trueup.store.records import Change
from trueup.store.schema import entities, findings, observation_terms, observations

BATCH = 2000
# A worker's batch: smaller, so that what is in flight (a batch queued for each worker, the
# results the commit has not written yet) stays small beside the reads the commit holds.
WORKER_BATCH = 500

Inputs = list[tuple[EntityRef, list[Handle], list[Handle]]]  # a batch: each ref's observations
Assembled = tuple[list[Encoded], list[EntityRef]]  # a batch's entities, and its absent refs


class BatchAssembler:
    """Assembles refs batch by batch from their stored observations and writes them."""

    def __init__(
        self,
        conn: Connection,
        policy: AssemblyPolicy,
        *,
        now: datetime,
        failed: Mapping[tuple[str, str], str],
        extra: Mapping[EntityRef, list[Finding]],
        actual_sources: bool,
        heads: Mapping[str, Head],
        writer: EntityWriter,
        known: Mapping[int, Observation],
        workers: int = 1,
        learned: Mapping[EntityRef, bool] | None = None,
    ) -> None:
        """``extra``: findings about each ref from snapshots and holds; ``known``: the
        observations this commit wrote, by row id (not read back). ``workers``: how many
        processes assemble a run of more than one batch (:mod:`trueup.parallel`).
        ``learned``: whether refs are refused, as this commit found them so far (else the
        stored rows tell); the caller adds to it, and runs after that are told."""
        self.conn = conn
        self.known = known
        self.writer = writer
        self.workers = workers
        self.emission = policy.emission
        self.learned: Mapping[EntityRef, bool] = {} if learned is None else learned
        self.assembled = 0
        # Refs whose refusal the runs predicted wrongly, and refs whose refusal differs
        # from their stored row's: ref -> refused now.
        self.surprises: dict[EntityRef, bool] = {}
        self.flipped: dict[EntityRef, bool] = {}
        self.job = _Job(
            policy,
            now=now,
            failed=failed,
            extra=extra,
            actual_sources=actual_sources,
            heads=heads,
            known=known,
            stored=lambda ref: _stored(conn, ref),
        )

    def run(
        self,
        refs: Collection[EntityRef],
        observed: Collection[EntityRef] | None = None,
        *,
        amend: bool = False,
    ) -> list[tuple[EntityRef, Change]]:
        """Assemble and write ``refs``; ``observed``: those of them observations make an
        entity now, when the caller knows (else they are looked up). With ``amend``, the
        refs are entities this commit created, rewritten as their creation
        (:meth:`~trueup.store.entities.EntityWriter.amend`)."""
        ordered = sorted(refs)
        if observed is None:
            self._presence(ordered)
        else:
            present = self.job.present
            for ref in ordered:
                present[ref] = ref in observed and not is_structural(ref)
        stored = unserved(self.conn, self.emission)
        self.job.unserved = stored
        self.job.learned = self.learned
        batches = list(rows.chunks(ordered, BATCH))
        workers = min(self.workers, len(batches))  # one batch runs here
        job = self.job
        if workers > 1:
            batches = list(rows.chunks(ordered, min(BATCH, WORKER_BATCH)))
            current = _current_refs(self.conn)
            job.stored = current.__contains__  # a worker cannot ask the database
            job = replace(job, known={})  # nor see this process's observations (_inputs)
        moved: list[tuple[EntityRef, Change]] = []
        inputs = self._inputs(batches, None if workers > 1 else self.known)
        for done, absent in ordered_map(job, inputs, workers):
            self.assembled += len(done)
            self._refusals(done, absent, stored)
            if amend and not absent:
                self.writer.amend(done)
            else:
                moved.extend(self.writer.write(done, absent))
        return moved

    def _refusals(
        self, done: Sequence[Encoded], absent: Sequence[EntityRef], stored: frozenset[EntityRef]
    ) -> None:
        """Record where the batch's refusals differ from the prediction and the store."""
        allows = self.emission.allows
        outcomes = [(e.ref, not e.served and allows(e.ref.kind)) for e in done]
        outcomes.extend((ref, False) for ref in absent)
        for ref, refused in outcomes:
            if refused != self.learned.get(ref, ref in stored):
                self.surprises[ref] = refused
            if refused != (ref in stored):
                self.flipped[ref] = refused

    def _inputs(
        self, batches: Sequence[Sequence[EntityRef]], known: Mapping[int, Observation] | None
    ) -> Iterator[Inputs]:
        """Each batch's refs with their observations: those in ``known`` by row id, the
        others read. For workers (``known`` None) every payload is read as its JSON
        text: a worker that read this process's observations would copy the memory
        pages holding them (each read writes a reference count), most of the world."""
        for batch in batches:
            names = [str(ref) for ref in batch]
            intent = rows.intent_of(self.conn, names, known)
            actual = rows.actual_of(self.conn, names, known)
            yield [
                (ref, intent.get(name, []), actual.get(name, []))
                for ref, name in zip(batch, names, strict=True)
            ]

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
            self.job.present[ref] = name in have and not is_structural(ref)


@dataclass
class _Job:
    """Assembles and encodes one batch; runs here or in a forked worker.

    A relation check asks whether a ref exists: for a ref of this run its new
    observations say so (``present``), for any other its stored row, which
    this commit does not change (only the refs it assembles are written). A
    worker answers that from the current refs read before it was forked.
    """

    policy: AssemblyPolicy
    now: datetime
    failed: Mapping[tuple[str, str], str]
    extra: Mapping[EntityRef, list[Finding]]
    actual_sources: bool
    heads: Mapping[str, Head]
    known: Mapping[int, Observation]
    stored: Callable[[EntityRef], bool]  # whether a ref's stored entity is current
    present: dict[EntityRef, bool] = field(default_factory=dict)
    seal: bool = False  # in a worker: what it encodes is sent back whole
    unserved: frozenset[EntityRef] = frozenset()  # stored refusals, as the run began
    learned: Mapping[EntityRef, bool] = field(default_factory=dict)  # found by an attempt

    def __call__(self, inputs: Inputs) -> Assembled:
        context = CheckContext(
            refs=_Present(self._exists),
            actual_sources=self.actual_sources,
            heads=self.heads,
            emission=self.policy.emission,
            refused=_Refused(self.unserved, self.learned),
        )
        done: list[Encoded] = []
        absent: list[EntityRef] = []
        decoded: dict[int, Observation] = {}  # read from the database, decoded once a batch
        for ref, intent, actual in inputs:
            resolved = rows.resolve(intent, self.known, decoded)
            mine = [o for o in resolved if not is_structural(o.ref)]
            theirs = rows.resolve(actual, self.known, decoded)
            if not mine and not theirs:
                absent.append(ref)
                continue
            entity = assemble_entity(
                ref,
                _ordered(mine),
                _ordered(theirs),
                self._extra(ref, mine, theirs),
                self.policy,
                context,
                self.now,
            )
            encoded = encode_entity(entity, self.policy.max_age, self.now)
            done.append(encoded.sealed() if self.seal else encoded)
        return done, absent

    def forked(self) -> None:
        """In a worker: what it encodes is sealed, to be sent back."""
        self.seal = True

    def _extra(
        self, ref: EntityRef, intent: Sequence[Observation], actual: Sequence[Observation]
    ) -> list[Finding]:
        found = list(self.extra.get(ref, ()))
        failed = self.failed
        keys = {
            (o.provenance.source, o.provenance.scope)
            for o in (*intent, *actual)
            if (o.provenance.source, o.provenance.scope) in failed
        }
        found.extend(failed_finding(ref, s, c, failed[(s, c)]) for s, c in sorted(keys))
        return found

    def _exists(self, ref: EntityRef) -> bool:
        if ref not in self.present:
            self.present[ref] = self.stored(ref)
        return self.present[ref]


def _stored(conn: Connection, ref: EntityRef) -> bool:
    query = sa.select(entities.c.id).where(
        entities.c.kind == ref.kind,
        entities.c.namespace == ref.namespace,
        entities.c.name == ref.name,
        entities.c.removed.is_(False),
    )
    return conn.execute(query).first() is not None


def unserved(conn: Connection, emission: EmissionPolicy) -> frozenset[EntityRef]:
    """The current entities of a kind ``emission`` serves that are refused for its rules.

    As stored: not served, with the ``invalid-entity`` finding that refusal gave them
    (found through the index of the findings' codes, so a commit reads a handful of
    rows, not every entity). One refused for its kind has ``unsupported-kind``
    instead: of a kind the policy now serves, it is taken as served, which it is
    unless its document breaks a rule too, so a policy that adds a kind to
    ``backstage.kinds`` does not make every relation to that kind a wrong prediction.
    """
    query = (
        sa.select(entities.c.kind, entities.c.namespace, entities.c.name)
        .join(findings, findings.c.entity_id == entities.c.id)
        .where(
            findings.c.code == Code.INVALID_ENTITY.value,
            entities.c.feed_json.is_(None),
            entities.c.removed.is_(False),
        )
        .distinct()
    )
    found = (EntityRef(*row) for row in conn.execute(query))
    return frozenset(ref for ref in found if emission.allows(ref.kind))


@dataclass(frozen=True)
class _Refused:
    """``context.refused`` of an incremental commit: what an attempt learned, else the store."""

    stored: frozenset[EntityRef]
    learned: Mapping[EntityRef, bool]

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, EntityRef):
            return False
        found = self.learned.get(item)
        return item in self.stored if found is None else found


def _current_refs(conn: Connection) -> frozenset[EntityRef]:
    query = sa.select(entities.c.kind, entities.c.namespace, entities.c.name).where(
        entities.c.removed.is_(False)
    )
    return frozenset(EntityRef(*row) for row in conn.execute(query))


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
