"""Scopes record how old their data is, not only when they were read.

Revision ID: 0008_scope_data_at
Revises: 0007_commit_number
Create Date: 2026-12-08

A cluster export written two days ago and read every minute has a fresh
``read_at`` while every status from it is stale: the sources page and API showed
it as ``ok``. ``scopes.data_at`` is the newest ``observed_at`` of an actual
scope's observations, set by each commit (the commit already holds the read),
so reading the health stays one query over the scopes.

Scopes stored before get it here from their stored observations: an export that
stays unchanged is kept by every later read, never parsed again, so nothing
else would ever set it. Intent scopes keep NULL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008_scope_data_at"
down_revision: str | None = "0007_commit_number"
branch_labels: str | None = None
depends_on: str | None = None

_scopes = sa.table(
    "scopes", sa.column("id", sa.Integer), sa.column("data_at", sa.DateTime(timezone=True))
)
_snapshots = sa.table(
    "snapshots", sa.column("scope_id", sa.Integer), sa.column("nature", sa.String)
)
_observations = sa.table(
    "observations", sa.column("scope_id", sa.Integer), sa.column("payload", sa.JSON)
)


def upgrade() -> None:
    op.add_column("scopes", sa.Column("data_at", sa.DateTime(timezone=True), nullable=True))
    conn = op.get_bind()
    actual = sa.select(_snapshots.c.scope_id).where(_snapshots.c.nature == "actual")
    query = sa.select(_observations.c.scope_id, _observations.c.payload).where(
        _observations.c.scope_id.in_(actual)
    )
    newest: dict[int, datetime] = {}
    for scope_id, payload in conn.execute(query.execution_options(yield_per=2000)):
        seen = _observed_at(payload)
        if scope_id not in newest or seen > newest[scope_id]:
            newest[scope_id] = seen
    sqlite = conn.dialect.name == "sqlite"
    rows = [
        # SQLite keeps naive UTC, as the store's UTCDateTime writes it.
        {"scope": scope_id, "at": at.astimezone(UTC).replace(tzinfo=None) if sqlite else at}
        for scope_id, at in sorted(newest.items())
    ]
    if rows:
        conn.execute(
            sa.update(_scopes)
            .where(_scopes.c.id == sa.bindparam("scope"))
            .values(data_at=sa.bindparam("at")),
            rows,
        )


def _observed_at(payload: Any) -> datetime:
    data = json.loads(payload) if isinstance(payload, str) else payload
    return datetime.fromisoformat(str(data["provenance"]["observed_at"]))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN, as 0007: a batch copy would drop scopes, which the
    # snapshots' and observations' foreign keys refuse.
    op.drop_column("scopes", "data_at")
