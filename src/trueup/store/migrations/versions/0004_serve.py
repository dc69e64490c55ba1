"""The server's records: a durable job table for one process, schedules, and procrastinate.

Revision ID: 0004_serve
Revises: 0003_run_owner
Create Date: 2026-12-04

``jobs`` was never written before this revision; it is recreated in the shape the
single-process queue (:mod:`trueup.scheduler.local`) uses. ``schedules`` keeps
when each source is next due. On PostgreSQL, procrastinate's schema (3.10.0,
frozen in ``migrations/sql``) is applied: replicas share their work through it.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0004_serve"
down_revision: str | None = "0003_run_owner"
branch_labels: str | None = None
depends_on: str | None = None

PROCRASTINATE_SCHEMA = Path(__file__).parent.parent / "sql" / "procrastinate-3.10.0-schema.sql"


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.drop_index(op.f("ix_jobs_state_lease_until"), table_name="jobs")
    op.drop_table("jobs")
    op.create_table(
        "jobs",
        sa.Column("id", _id(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("started_at", _time(), nullable=True),
        sa.Column("finished_at", _time(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(op.f("ix_jobs_state_id"), "jobs", ["state", "id"], unique=False)
    op.create_index(
        op.f("ix_jobs_kind_target_state"), "jobs", ["kind", "target", "state"], unique=False
    )
    op.create_table(
        "schedules",
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("last_started_at", _time(), nullable=True),
        sa.Column("last_finished_at", _time(), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_due_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_schedules")),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # On the driver's cursor without parameters: the SQL holds literal % signs.
        cursor = bind.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(PROCRASTINATE_SCHEMA.read_text(encoding="utf-8"))
        finally:
            cursor.close()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        raise NotImplementedError("procrastinate's schema is not removed by a downgrade")
    op.drop_table("schedules")
    op.drop_index(op.f("ix_jobs_kind_target_state"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_state_id"), table_name="jobs")
    op.drop_table("jobs")
    op.create_table(
        "jobs",
        sa.Column("id", _id(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("lease_owner", sa.String(length=255), nullable=True),
        sa.Column("lease_until", _time(), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(
        op.f("ix_jobs_state_lease_until"), "jobs", ["state", "lease_until"], unique=False
    )
