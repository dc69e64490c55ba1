"""Two indexes cover the queries that read them: observations by (ref, nature),
entities by (expires_at, removed).

Revision ID: 0010_covering_indexes
Revises: 0009_feed_generation
Create Date: 2026-12-07

An intent lookup by ref (``nature = 'intent' AND ref IN (...)``) and the list of
every ref with intent found each observation's nature in its row: a read of the
table per observation, about 250,000 page reads each in a cold sync of 100,000
entities. Counting the current entities (``removed`` false: every commit does)
read every row of ``entities``, whose documents fill about 160,000 pages at
100,000 entities. With the nature and ``removed`` in the indexes, both read the
index alone.
"""

from __future__ import annotations

from alembic import op

revision: str = "0010_covering_indexes"
down_revision: str | None = "0009_feed_generation"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_observations_ref_nature", "observations", ["ref", "nature"])
    op.drop_index("ix_observations_ref", table_name="observations")
    op.create_index("ix_entities_expires_at_removed", "entities", ["expires_at", "removed"])
    op.drop_index("ix_entities_expires_at", table_name="entities")


def downgrade() -> None:
    op.create_index("ix_entities_expires_at", "entities", ["expires_at"])
    op.drop_index("ix_entities_expires_at_removed", table_name="entities")
    op.create_index("ix_observations_ref", "observations", ["ref"])
    op.drop_index("ix_observations_ref_nature", table_name="observations")
