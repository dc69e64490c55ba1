"""Initial schema: scopes, snapshots, observations, entities, revisions, findings,
sync runs, webhook deliveries and jobs.

Revision ID: 0001_initial
Revises:
Create Date: 2025-11-28

Frozen on purpose: it spells out its types instead of importing
``trueup.store.schema``, so later schema edits need a new migration.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _name() -> sa.types.TypeEngine[str]:
    return sa.String().with_variant(sa.String(collation="C"), "postgresql")


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.JSON:
    return sa.JSON(none_as_null=True)


def upgrade() -> None:
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", _time(), nullable=False),
        sa.Column("finished_at", _time(), nullable=True),
        sa.Column("committed_at", _time(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=255), nullable=False),
        sa.Column("sources", _json(), nullable=False),
        sa.Column("summary", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_table(
        "scopes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.String(length=1024), nullable=False),
        sa.Column("last_success_at", _time(), nullable=True),
        sa.Column("last_failure_at", _time(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failure_kind", sa.String(length=32), nullable=True),
        sa.Column("held_removals", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scopes")),
        sa.UniqueConstraint("source", "scope", name=op.f("uq_scopes_source_scope")),
    )
    op.create_table(
        "snapshots",
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("nature", sa.String(length=16), nullable=False),
        sa.Column("read_at", _time(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("findings", _json(), nullable=False),
        sa.Column("observed_at", _json(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_snapshots_run_id_sync_runs")
        ),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_snapshots_scope_id_scopes")
        ),
        sa.PrimaryKeyConstraint("scope_id", name=op.f("pk_snapshots")),
    )
    op.create_table(
        "observations",
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.Column("locator", sa.Text(), nullable=False),
        sa.Column("nature", sa.String(length=16), nullable=False),
        sa.Column("observed_at", _time(), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_observations_scope_id_scopes")
        ),
        sa.PrimaryKeyConstraint("scope_id", "position", name=op.f("pk_observations")),
    )
    op.create_table(
        "entities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _name(), nullable=False),
        sa.Column("namespace", _name(), nullable=False),
        sa.Column("name", _name(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("document_hash", sa.String(length=64), nullable=False),
        sa.Column("findings_hash", sa.String(length=64), nullable=False),
        sa.Column("document", _json(), nullable=False),
        sa.Column("feed_yaml", sa.Text(), nullable=True),
        sa.Column("feed_json", sa.Text(), nullable=True),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.Column("refreshed_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entities")),
        sa.UniqueConstraint(
            "kind", "namespace", "name", name=op.f("uq_entities_kind_namespace_name")
        ),
    )
    op.create_table(
        "revisions",
        sa.Column("id", _id(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("document", _json(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entities.id"], name=op.f("fk_revisions_entity_id_entities")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_revisions_run_id_sync_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revisions")),
        sa.UniqueConstraint("entity_id", "number", name=op.f("uq_revisions_entity_id_number")),
    )
    op.create_index(op.f("ix_revisions_run_id"), "revisions", ["run_id"], unique=False)
    op.create_table(
        "findings",
        sa.Column("id", _id(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("evidence", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entities.id"], name=op.f("fk_findings_entity_id_entities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
    )
    op.create_index(op.f("ix_findings_code"), "findings", ["code"], unique=False)
    op.create_index(op.f("ix_findings_entity_id"), "findings", ["entity_id"], unique=False)
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", _id(), nullable=False),
        sa.Column("delivery_id", sa.String(length=255), nullable=False),
        sa.Column("received_at", _time(), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("event", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_webhook_deliveries_delivery_id")),
    )
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


def downgrade() -> None:
    for index, table in (
        ("ix_jobs_state_lease_until", "jobs"),
        ("ix_findings_entity_id", "findings"),
        ("ix_findings_code", "findings"),
        ("ix_revisions_run_id", "revisions"),
    ):
        op.drop_index(op.f(index), table_name=table)
    for table in (
        "jobs",
        "webhook_deliveries",
        "findings",
        "revisions",
        "entities",
        "observations",
        "snapshots",
        "scopes",
        "sync_runs",
    ):
        op.drop_table(table)
