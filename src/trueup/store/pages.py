"""The API's filtered, paginated reads: pages of entities and of findings.

Called by :mod:`trueup.web.api`; get one with :meth:`trueup.store.Store.pages`.
Pagination is by key (the entity ref, the finding id), never by offset, so a
page costs the same at the end of 100,000 entities as at the start, and the
filters run in the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from trueup.model.finding import Code, Finding, Severity
from trueup.model.ref import EntityRef
from trueup.store.engine import translated
from trueup.store.entities import entity_query, stored_entity
from trueup.store.records import StoredEntity
from trueup.store.schema import entities, findings, observations, scopes


@dataclass(frozen=True, slots=True)
class EntityFilter:
    """What ``GET /api/v1/entities`` may ask for; None means "any"."""

    kind: str | None = None
    namespace: str | None = None
    owner: str | None = None  # a full ref, group:default/team-a
    finding: str | None = None  # a finding code, or "any"
    stale: bool | None = None
    discovered: bool | None = None
    drift: bool | None = None  # has (or lacks) a drift finding
    search: str | None = None  # a part of the name, any case (the dashboard's search)


@dataclass(frozen=True, slots=True)
class FindingFilter:
    code: str | None = None
    severity: Severity | None = None
    owner: str | None = None
    subject: str | None = None


class Pages:
    """Keyset-paginated reads of entities and findings."""

    def __init__(self, engine: Engine, url: URL) -> None:
        self._engine = engine
        self._url = url

    def entities(
        self, where: EntityFilter, *, after: EntityRef | None, limit: int
    ) -> list[StoredEntity]:
        """Up to ``limit`` current entities after ``after``, ordered by ref."""
        query = entity_query().where(entities.c.removed.is_(False), *_entity_conditions(where))
        if after is not None:
            key = (after.kind.lower(), after.namespace.lower(), after.name.lower())
            query = query.where(
                sa.tuple_(entities.c.kind, entities.c.namespace, entities.c.name) > key
            )
        query = query.order_by(entities.c.kind, entities.c.namespace, entities.c.name).limit(limit)
        with translated("reading a page of entities", self._url), self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [stored_entity(row) for row in rows]

    def findings(
        self, where: FindingFilter, *, after: int | None, limit: int
    ) -> list[tuple[int, Finding]]:
        """Up to ``limit`` current findings with an id above ``after``, by id."""
        query = sa.select(findings).where(*_finding_conditions(where))
        if after is not None:
            query = query.where(findings.c.id > after)
        query = query.order_by(findings.c.id).limit(limit)
        with translated("reading a page of findings", self._url), self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            (
                int(row.id),
                Finding(
                    code=row.code,
                    severity=Severity(row.severity),
                    subject=row.subject,
                    message=row.message,
                    evidence=row.evidence,
                ),
            )
            for row in rows
        ]

    def scopes_observing(self, kind: str, name: str) -> list[tuple[str, str]]:
        """The (source, scope) pairs whose current snapshot holds a ``kind`` object ``name``.

        Matches the Kubernetes locator ``cluster/namespace/Kind/name@rv`` inside
        the stored observation; ``name`` must be a Kubernetes object name (no
        LIKE wildcards can be in it).
        """
        text = sa.cast(observations.c.payload, sa.Text)
        query = (
            sa.select(scopes.c.source, scopes.c.scope)
            .join(observations, observations.c.scope_id == scopes.c.id)
            .where(
                sa.or_(
                    text.like(f"%/{kind}/{name}@%"),
                    text.like(f'%/{kind}/{name}"%'),
                )
            )
            .distinct()
            .order_by(scopes.c.source, scopes.c.scope)
        )
        with translated("finding an object's scope", self._url), self._engine.connect() as conn:
            return [(row.source, row.scope) for row in conn.execute(query)]


def _entity_conditions(where: EntityFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if where.kind is not None:
        conditions.append(entities.c.kind == where.kind.lower())
    if where.namespace is not None:
        conditions.append(entities.c.namespace == where.namespace.lower())
    if where.owner is not None:
        # Owners are stored as lowercase full refs (AssembledEntity.owner): the plain
        # comparison lets the owner index serve the filter and the ref order.
        conditions.append(entities.c.owner == where.owner.lower())
    if where.search:
        # Names are stored lowercase; LIKE wildcards typed by a person are matched literally.
        conditions.append(entities.c.name.contains(where.search.lower(), autoescape=True))
    for code, wanted in (
        (where.finding, True),
        (Code.STALE.value if where.stale is not None else None, where.stale),
        (Code.UNDECLARED.value if where.discovered is not None else None, where.discovered),
        (Code.DRIFT.value if where.drift is not None else None, where.drift),
    ):
        if code is None:
            continue
        has = _has_finding(None if code == "any" else code)
        conditions.append(has if wanted else ~has)
    return conditions


def _has_finding(code: str | None) -> sa.Exists:
    query = sa.select(findings.c.id).where(findings.c.entity_id == entities.c.id)
    if code is not None:
        query = query.where(findings.c.code == code)
    return sa.exists(query)


def _finding_conditions(where: FindingFilter) -> Sequence[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if where.code is not None:
        conditions.append(findings.c.code == where.code)
    if where.severity is not None:
        conditions.append(findings.c.severity == where.severity.value)
    if where.subject is not None:
        conditions.append(findings.c.subject == where.subject)
    if where.owner is not None:
        owned = sa.select(entities.c.id).where(
            sa.func.lower(entities.c.owner) == where.owner.lower()
        )
        conditions.append(findings.c.entity_id.in_(owned))
    return conditions
