"""Assembling dirty refs in batches from their stored observations, and writing them.

Called by :mod:`trueup.store.incremental` inside the commit transaction. Each
batch loads its refs' intent observations and the actual observations linked
to them (``t:`` terms), merges each entity with
:func:`trueup.assemble.assembler.assemble_entity` — the function
``assemble()`` uses — and writes the batch through
:class:`~trueup.store.entities.EntityWriter`. A relation check asks whether
a ref exists: for a dirty ref its new observations say so, for any other its
stored row.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
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
from trueup.model.assembled import AssembledEntity
from trueup.model.finding import Finding
from trueup.model.observation import Nature, Observation
from trueup.model.ref import EntityRef
from trueup.model.repository import Head
from trueup.store import observations as rows
from trueup.store.entities import EntityWriter, expires_at
from trueup.store.observations import TARGET
from trueup.store.records import Change
from trueup.store.schema import entities, observation_terms, observations

BATCH = 2000


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
    ) -> None:
        """``extra``: findings about each ref from snapshots and holds; ``known``: the
        observations this commit wrote, by row id (not read back)."""
        self.conn = conn
        self.policy = policy
        self.now = now
        self.failed = failed
        self.known = known
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
                    self.policy,
                    context,
                    self.now,
                )
                done.append((entity, expires_at(entity, self.policy.max_age)))
            self.assembled += len(done)
            moved.extend(self.writer.write(done, absent))
        return moved

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
