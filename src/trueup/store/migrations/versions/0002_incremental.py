"""The incremental engine: observations one row each, found by part and by ref,
with index terms; part fingerprints; entity terms and the freshness schedule.

Revision ID: 0002_incremental
Revises: 0001_initial
Create Date: 2026-11-30

Existing observations are moved into the new table as they are (their times
from the snapshot row's override when an identical re-read set one); the
``rebuild`` flag then makes the next commit compute digests, index terms and
targets and assemble every entity once. Nothing stored is lost.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002_incremental"
down_revision: str | None = "0001_initial"
branch_labels: str | None = None
depends_on: str | None = None

_BATCH = 2000


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.JSON:
    return sa.JSON(none_as_null=True)


def upgrade() -> None:
    op.rename_table("observations", "observations_v1")
    if op.get_bind().dialect.name == "postgresql":  # constraint names travel with the table
        op.execute("ALTER TABLE observations_v1 RENAME CONSTRAINT pk_observations TO pk_obs_v1")
        op.execute(
            "ALTER TABLE observations_v1 RENAME CONSTRAINT fk_observations_scope_id_scopes "
            "TO fk_obs_v1_scope"
        )
    op.create_table(
        "observations",
        sa.Column("id", _id(), nullable=False),
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.Text(), nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.Column("nature", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_observations_scope_id_scopes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
    )
    op.create_index(op.f("ix_observations_ref"), "observations", ["ref"], unique=False)
    op.create_index(
        op.f("ix_observations_scope_id_part"), "observations", ["scope_id", "part"], unique=False
    )
    op.create_table(
        "observation_terms",
        sa.Column("observation_id", _id(), nullable=False),
        sa.Column("term", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["observations.id"],
            name=op.f("fk_observation_terms_observation_id_observations"),
        ),
    )
    op.create_index(
        op.f("ix_observation_terms_term_observation_id"),
        "observation_terms",
        ["term", "observation_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_observation_terms_observation_id"),
        "observation_terms",
        ["observation_id"],
        unique=False,
    )
    op.create_table(
        "snapshot_parts",
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scope_id"], ["scopes.id"], name=op.f("fk_snapshot_parts_scope_id_scopes")
        ),
        sa.PrimaryKeyConstraint("scope_id", "part", name=op.f("pk_snapshot_parts")),
    )
    op.create_table(
        "entity_terms",
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("term", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entities.id"], name=op.f("fk_entity_terms_entity_id_entities")
        ),
    )
    op.create_index(
        op.f("ix_entity_terms_term_entity_id"), "entity_terms", ["term", "entity_id"], unique=False
    )
    op.create_index(op.f("ix_entity_terms_entity_id"), "entity_terms", ["entity_id"], unique=False)
    op.create_table(
        "assembly_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", _json(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_assembly_state")),
    )
    op.add_column("entities", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_entities_expires_at"), "entities", ["expires_at"], unique=False)

    _move_observations()
    with op.batch_alter_table("snapshots") as batch:
        batch.drop_column("content_hash")
        batch.drop_column("observed_at")
    op.drop_table("observations_v1")
    op.bulk_insert(
        sa.table("assembly_state", sa.column("key", sa.String()), sa.column("value", _json())),
        [{"key": "rebuild", "value": True}],
    )


def _move_observations() -> None:
    bind = op.get_bind()
    overrides: dict[int, Any] = {
        scope_id: value
        for scope_id, value in bind.execute(sa.text("SELECT scope_id, observed_at FROM snapshots"))
    }
    rows = bind.execute(
        sa.text(
            "SELECT scope_id, position, ref, nature, observed_at, payload FROM observations_v1 "
            "ORDER BY scope_id, position"
        )
    )
    target = sa.table(
        "observations",
        sa.column("scope_id", sa.Integer()),
        sa.column("part", sa.Text()),
        sa.column("ref", sa.Text()),
        sa.column("nature", sa.String()),
        sa.column("digest", sa.String()),
        sa.column("payload", _json()),
    )
    batch: list[dict[str, Any]] = []
    for scope_id, position, ref, nature, observed_at, payload in rows:
        data = json.loads(payload) if isinstance(payload, str) else dict(payload)
        override = overrides.get(scope_id)
        if isinstance(override, str) and override.startswith("["):
            override = json.loads(override)
        if isinstance(override, list):
            at = override[position]
        elif isinstance(override, str) and override:
            at = override.strip('"')
        else:
            at = observed_at if isinstance(observed_at, str) else observed_at.isoformat()
        data["provenance"] = {**data["provenance"], "observed_at": _iso(at)}
        batch.append(
            {
                "scope_id": scope_id,
                "part": "",
                "ref": ref,
                "nature": nature,
                "digest": "",  # computed by the rebuild at the next commit
                "payload": data,
            }
        )
        if len(batch) >= _BATCH:
            op.bulk_insert(target, batch)
            batch = []
    if batch:
        op.bulk_insert(target, batch)


def _iso(value: str) -> str:
    """SQLite keeps naive UTC text: give it its offset back."""
    text = value.replace(" ", "T")
    return text if ("+" in text[10:] or text.endswith("Z")) else f"{text}+00:00"


def downgrade() -> None:
    raise NotImplementedError("0002_incremental cannot be downgraded: restore a backup instead")
