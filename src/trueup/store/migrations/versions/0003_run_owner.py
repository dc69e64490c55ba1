"""Sync runs record their owner, so a run left ``running`` by a killed process is found.

Revision ID: 0003_run_owner
Revises: 0002_incremental
Create Date: 2026-01-12

``owner_host``, ``owner_pid`` and ``owner_started`` (the process start time) let
the next run tell a live run from an interrupted one on SQLite; on PostgreSQL a
session advisory lock decides, and these columns are shown for people
(:mod:`trueup.store.run_owner`). Runs from before this migration have no owner
and are never marked interrupted on a guess.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_run_owner"
down_revision: str | None = "0002_incremental"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("sync_runs", sa.Column("owner_host", sa.String(255), nullable=True))
    op.add_column("sync_runs", sa.Column("owner_pid", sa.Integer(), nullable=True))
    op.add_column("sync_runs", sa.Column("owner_started", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("owner_started")
        batch.drop_column("owner_pid")
        batch.drop_column("owner_host")
