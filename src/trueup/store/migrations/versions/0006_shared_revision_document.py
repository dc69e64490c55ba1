"""A revision shares its entity's document until the entity's document is rewritten.

Revision ID: 0006_shared_revision_document
Revises: 0005_dashboard
Create Date: 2026-12-06

From this version on, a revision is written without its document (``revisions.document``
NULL, ``content_hash`` set): it is the entity's own (``entities.document``) until that is
rewritten, when the revision gets its copy (``store/history.py``, ``freeze_revisions``).
Most entities never change, so this halves what a cold sync stores. No table changes, and
rows written before keep their copies; the version exists so that an older trueup, which
would read such a revision as having no document, refuses this database instead
("cannot upgrade the schema"). The downgrade gives every revision its own copy again.
"""

from __future__ import annotations

from alembic import op

revision: str = "0006_shared_revision_document"
down_revision: str | None = "0005_dashboard"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass  # new revisions share; the stored ones keep their copies


def downgrade() -> None:
    op.execute(
        "UPDATE revisions SET document = (SELECT entities.document FROM entities"
        " WHERE entities.id = revisions.entity_id)"
        " WHERE revisions.document IS NULL AND revisions.content_hash IS NOT NULL"
    )
