"""Sync runs record the feed generation: the last commit that changed an entity row.

Revision ID: 0009_feed_generation
Revises: 0008_scope_data_at
Create Date: 2026-12-09

The feed's ETag was the store generation, which every commit moves, so a sync
that changed nothing (the common case) made every Backstage poll after it
download the whole feed again. ``sync_runs.feed_generation`` is set by each
commit: its own number when it wrote an entity row (created, revised, removed,
restored or rewritten), else the feed generation of the commit before. Runs
committed before this keep NULL, read as their own commit number: the first
ETag after the upgrade is the one the feed had before it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009_feed_generation"
down_revision: str | None = "0008_scope_data_at"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("sync_runs", sa.Column("feed_generation", sa.Integer(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN, as 0007: a batch copy of sync_runs breaks its foreign keys.
    op.drop_column("sync_runs", "feed_generation")
