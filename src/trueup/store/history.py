"""Revisions: how they share their entity's document, and reading one entity's history.

A revision is written without its document (``revisions.document`` NULL, its
content hash set): while it is the entity's latest, its document is the entity's
own (``entities.document``). Most entities never change, and storing every
document twice was over a quarter of a cold sync's bytes. Before an entity's
document is rewritten (a change, a restore, newer ages without a revision), the
writer (:mod:`trueup.store.entities`) calls :func:`freeze_revisions`, and the one
revision still sharing it gets its own copy. A removal leaves the document as it
was, so the revision before it shares on until a restore. Readers take a
revision's document through :func:`revision_document`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trueup.model.assembled import AssembledEntity
from trueup.model.ref import EntityRef
from trueup.store.records import Change, Revision
from trueup.store.schema import entities, revisions

_FREEZE = (
    sa.update(revisions)
    .where(
        revisions.c.entity_id == sa.bindparam("eid"),
        revisions.c.document.is_(None),
        revisions.c.content_hash.is_not(None),
    )
    .values(
        document=sa.select(entities.c.document)
        .where(entities.c.id == revisions.c.entity_id)
        .scalar_subquery()
    )
)


def freeze_revisions(conn: Connection, entity_ids: Sequence[int]) -> None:
    """Before these entities' documents are rewritten: the revision sharing each gets a
    copy, made in the database without a round trip."""
    if entity_ids:
        conn.execute(_FREEZE, [{"eid": entity_id} for entity_id in entity_ids])


def revision_document() -> sa.ColumnElement[Any]:
    """A revision's document in a query joining ``revisions`` to ``entities``: its own
    copy, or the entity's while they share it; NULL for a removal."""
    shared = sa.func.coalesce(revisions.c.document, entities.c.document)
    return sa.type_coerce(
        sa.case((revisions.c.content_hash.is_(None), sa.null()), else_=shared),
        revisions.c.document.type,
    )


def history(conn: Connection, *entity: sa.ColumnElement[bool]) -> list[Revision]:
    """The revisions of the entity the ``entity`` conditions select, oldest first."""
    query = (
        sa.select(
            *[c for c in revisions.c if c is not revisions.c.document],
            revision_document().label("document"),
            entities.c.kind,
            entities.c.namespace,
            entities.c.name,
        )
        .join(entities, entities.c.id == revisions.c.entity_id)
        .where(*entity)
        .order_by(revisions.c.number)
    )
    return [
        Revision(
            ref=EntityRef(row.kind, row.namespace, row.name),
            number=row.number,
            at=row.at,
            run_id=row.run_id,
            cause=row.cause,
            change=Change(row.change),
            assembled=AssembledEntity.from_json(row.document) if row.document else None,
            content_hash=row.content_hash,
        )
        for row in conn.execute(query)
    ]
