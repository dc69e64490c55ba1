"""An index of the current entities the feed leaves out.

Revision ID: 0010_unserved_index
Revises: 0009_feed_generation
Create Date: 2026-12-07

An entity of a served kind whose assembled document breaks Backstage's rules is
stored without feed texts (``feed_json`` NULL) and never emitted, so a relation
to it dangles. Each incremental commit reads which current entities those are;
this partial index answers that without reading every row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010_unserved_index"
down_revision: str | None = "0009_feed_generation"
branch_labels: str | None = None
depends_on: str | None = None

UNSERVED = "feed_json IS NULL AND NOT removed"


def upgrade() -> None:
    op.create_index(
        "ix_entities_unserved",
        "entities",
        ["kind", "namespace", "name"],
        sqlite_where=sa.text(UNSERVED),
        postgresql_where=sa.text(UNSERVED),
    )


def downgrade() -> None:
    op.drop_index("ix_entities_unserved", table_name="entities")
