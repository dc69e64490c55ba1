"""Sync runs number their commits in the order they land: the store generation.

Revision ID: 0007_commit_number
Revises: 0006_shared_revision_document
Create Date: 2026-12-06

The generation (the feed's ETag, the dashboard's cache key, ``based_on`` of a
commit) was the highest id among committed runs. Syncs overlap, and ids are
handed out when a run starts, so a run that started first and committed last
left it unchanged. ``sync_runs.commit_number`` is set by each commit's own
transaction to one more than the highest so far (writers are serialised there);
the generation is its max, read through the unique index.

Runs committed before are numbered here in the order of ``committed_at``, then
id, after the highest committed id: the generation goes on growing from where
it was and never again takes a value it had before, so an ETag from an older
trueup cannot match a different feed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007_commit_number"
down_revision: str | None = "0006_shared_revision_document"
branch_labels: str | None = None
depends_on: str | None = None

_runs = sa.table(
    "sync_runs",
    sa.column("id", sa.Integer),
    sa.column("committed_at", sa.DateTime),
    sa.column("commit_number", sa.Integer),
)


def upgrade() -> None:
    op.add_column("sync_runs", sa.Column("commit_number", sa.Integer(), nullable=True))
    conn = op.get_bind()
    committed = _runs.c.committed_at.is_not(None)
    after = conn.execute(sa.select(sa.func.max(_runs.c.id)).where(committed)).scalar() or 0
    ordered = conn.execute(
        sa.select(_runs.c.id).where(committed).order_by(_runs.c.committed_at, _runs.c.id)
    ).scalars()
    numbers = [{"run": run, "number": after + n} for n, run in enumerate(ordered, start=1)]
    if numbers:
        conn.execute(
            sa.update(_runs)
            .where(_runs.c.id == sa.bindparam("run"))
            .values(commit_number=sa.bindparam("number")),
            numbers,
        )
    op.create_index(op.f("ix_sync_runs_commit_number"), "sync_runs", ["commit_number"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_sync_runs_commit_number"), table_name="sync_runs")
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+, which RETURNING needs already): a batch
    # copy would drop sync_runs, which the snapshots' foreign keys refuse.
    op.drop_column("sync_runs", "commit_number")
