"""Counting the current entities and looking up intent by ref read indexes alone:
observations by (ref, nature), entities by (expires_at, removed), and the entities
not served.

Revision ID: 0010_covering_indexes
Revises: 0009_feed_generation
Create Date: 2026-12-07

An intent lookup by ref (``nature = 'intent' AND ref IN (...)``) and the list of
every ref with intent found each observation's nature in its row: a read of the
table per observation, about 250,000 page reads each in a cold sync of 100,000
entities. Counting the current entities (``removed`` false: every commit does)
read every row of ``entities``, whose documents fill about 160,000 pages at
100,000 entities. With the nature and ``removed`` in the indexes, both read the
index alone. The sync's tally also counts the entities served to Backstage (those
with a feed document): it counts the few that are not, in a partial index of them.
"""

from __future__ import annotations

import sqlalchemy as sa
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
    unserved = sa.text("feed_yaml IS NULL")
    op.create_index(
        "ix_entities_unserved",
        "entities",
        ["removed"],
        sqlite_where=unserved,
        postgresql_where=unserved,
    )


def downgrade() -> None:
    op.drop_index("ix_entities_unserved", table_name="entities")
    op.create_index("ix_entities_expires_at", "entities", ["expires_at"])
    op.drop_index("ix_entities_expires_at_removed", table_name="entities")
    op.create_index("ix_observations_ref", "observations", ["ref"])
    op.drop_index("ix_observations_ref_nature", table_name="observations")
