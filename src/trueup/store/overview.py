"""Reads for the dashboard's overviews: the kinds and owners to filter by, and the score
history behind each owner's trend.

Get one with :meth:`trueup.store.Store.overview`; :mod:`trueup.web.ui` calls it.
Each read touches only indexes or a few small values per row: the kinds from
the ref index, the owners from the owner index, and the score history from
each revision's score and ``spec.owner`` without decoding whole documents.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from trueup.model.assembled import owner_ref
from trueup.model.ref import EntityRef
from trueup.store.engine import translated
from trueup.store.history import revision_document
from trueup.store.records import Change
from trueup.store.schema import bytewise, entities, revisions

_YIELD_PER = 2000


@dataclass(frozen=True, slots=True)
class ScoreChange:
    """One revision, reduced to what a score trend needs.

    ``id`` grows with every revision written, so a reader that remembers the last
    one it saw asks only for newer ones. ``owner`` is the full owner ref, as
    :attr:`~trueup.model.assembled.AssembledEntity.owner` gives it; ``score``
    and ``owner`` are None for a removal.
    """

    id: int
    ref: EntityRef
    at: datetime
    change: Change
    score: int | None
    owner: str | None


@lru_cache(maxsize=65536)
def _owner(raw: object, namespace: str) -> str | None:
    """:func:`owner_ref` for an entity of ``namespace``; owners repeat, so it is cached."""
    return owner_ref(raw, EntityRef("", namespace, ""))


class Overview:
    """Facets and score history, read through indexes and small JSON values."""

    def __init__(self, engine: Engine, url: URL) -> None:
        self._engine = engine
        self._url = url

    def kinds(self) -> list[str]:
        """Every kind in the catalog, lowercase and sorted (removed entities' kinds too)."""
        query = sa.select(entities.c.kind).distinct().order_by(entities.c.kind)
        with translated("reading kinds", self._url), self._engine.connect() as conn:
            return [str(kind) for kind in conn.execute(query).scalars()]

    def owners(self, limit: int = 1000) -> list[str]:
        """Up to ``limit`` owners (full refs), sorted; owners of removed entities too."""
        owner = bytewise(entities.c.owner, self._engine.dialect)  # DISTINCT: order as selected
        query = (
            sa.select(owner)
            .where(entities.c.owner.is_not(None))
            .distinct()
            .order_by(owner)
            .limit(limit)
        )
        with translated("reading owners", self._url), self._engine.connect() as conn:
            return [str(owner) for owner in conn.execute(query).scalars()]

    def score_changes(self, *, after: int = 0) -> Generator[ScoreChange, None, None]:
        """Every revision with an id above ``after``, oldest first, streamed."""
        document = revision_document()
        query = (
            sa.select(
                revisions.c.id,
                entities.c.kind,
                entities.c.namespace,
                entities.c.name,
                revisions.c.at,
                revisions.c.change,
                document["score"].as_integer().label("score"),
                document[("entity", "spec", "owner")].as_string().label("owner"),
            )
            .join(entities, entities.c.id == revisions.c.entity_id)
            .where(revisions.c.id > after)
            .order_by(revisions.c.id)
            .execution_options(yield_per=_YIELD_PER)
        )
        with (
            translated("reading the score history", self._url),
            self._engine.connect() as conn,
            closing(conn.execute(query)) as rows,
        ):
            for row in rows:
                ref = EntityRef(row.kind, row.namespace, row.name)
                change = Change(row.change)
                removed = change is Change.REMOVED
                yield ScoreChange(
                    id=int(row.id),
                    ref=ref,
                    at=row.at,
                    change=change,
                    score=None if removed or row.score is None else int(row.score),
                    owner=None if removed else _owner(row.owner, row.namespace),
                )
