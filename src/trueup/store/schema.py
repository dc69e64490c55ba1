"""The database schema: SQLAlchemy Core tables shared by the store and its migrations.

:class:`trueup.store.store.Store` queries these tables; the Alembic migrations
under ``migrations/versions`` create them, and a test checks that both agree
(``alembic compare_metadata`` finds no difference) on SQLite and PostgreSQL.

What lives where:

- ``scopes`` — one row per (source, scope) ever read, with its health and how old
  its data is;
- ``snapshots`` — the current snapshot of a scope (one row per scope),
  ``snapshot_parts`` — the fingerprint of each part (file) of it, and
  ``observations`` — its observations, one row each, found by scope and part
  or by entity ref; ``observation_terms`` index them for the incremental
  engine (annotations of intent, links, selectors and targets of actual ones);
- ``entities`` — the current assembled entity per ref (removed ones are kept),
  with ``entity_terms`` (what its checks depend on: relation targets, repository
  heads) and ``expires_at`` (when status it shows as fresh turns stale);
- ``assembly_state`` — what the last commit assembled with (policy fingerprint,
  git heads, whether an actual source exists), to tell what must be assembled again;
- ``revisions`` — every version of every entity, never deleted; the latest one
  shares its entity's document (its own ``document`` NULL) until that is rewritten;
- ``findings`` — the current findings (replaced on every commit);
- ``sync_runs``, ``webhook_deliveries``, ``jobs``, ``schedules`` — operations
  (with PostgreSQL the job queue is procrastinate's own ``procrastinate_*`` tables).

Times are stored in UTC (:class:`UTCDateTime`); entity refs sort bytewise on
both backends (collation ``C`` on PostgreSQL) so ``ORDER BY`` matches
:class:`~trueup.model.ref.EntityRef` ordering.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored in UTC and always read back aware (UTC).

    SQLite keeps no offset, so naive values would be ambiguous: they are refused.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; pass UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _id() -> sa.types.TypeEngine[int]:
    """64-bit ids on PostgreSQL; SQLite needs INTEGER for its rowid alias."""
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _name() -> sa.types.TypeEngine[str]:
    """Bytewise-sorted text: the parts of an entity ref."""
    return sa.String().with_variant(sa.String(collation="C"), "postgresql")


def length_of(column: sa.Column[str]) -> int | None:
    """The column's length, None for one without (``TEXT``)."""
    return column.type.length if isinstance(column.type, sa.String) else None


def clipped(text: str, column: sa.Column[str]) -> str:
    """``text`` within the column's length (PostgreSQL refuses more), an ellipsis showing a cut."""
    limit = length_of(column)
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def bytewise(column: sa.ColumnElement[str], dialect: Dialect) -> sa.ColumnElement[str]:
    """``column`` to ``ORDER BY``, sorted by bytes as SQLite and Python sort text.

    A PostgreSQL database's default collation may be a language's (``en-US`` puts
    ``a_b`` before ``A``); the ref columns are ``C`` already (:func:`_name`).
    """
    return column.collate("C") if dialect.name == "postgresql" else column


def _json() -> sa.JSON:
    # none_as_null: Python None is SQL NULL, not the JSON literal 'null'.
    return sa.JSON(none_as_null=True)


scopes = sa.Table(
    "scopes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("source", sa.String(255), nullable=False),
    sa.Column("scope", sa.String(1024), nullable=False),
    sa.Column("last_success_at", UTCDateTime, nullable=True),
    sa.Column("last_failure_at", UTCDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("failure_kind", sa.String(32), nullable=True),
    sa.Column("held_removals", sa.Integer, nullable=False, server_default="0"),
    # How old the data of an actual scope's current snapshot is (migration 0008): the
    # newest observed_at of its observations, set by each commit; NULL for intent scopes.
    sa.Column("data_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("source", "scope"),
)

snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("scope_id", sa.ForeignKey("scopes.id"), primary_key=True),
    sa.Column("run_id", sa.ForeignKey("sync_runs.id"), nullable=True),
    sa.Column("nature", sa.String(16), nullable=False),
    sa.Column("read_at", UTCDateTime, nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("item_count", sa.Integer, nullable=False),
    sa.Column("findings", _json(), nullable=False),
)

snapshot_parts = sa.Table(
    "snapshot_parts",
    metadata,
    sa.Column("scope_id", sa.ForeignKey("scopes.id"), primary_key=True),
    sa.Column("part", sa.Text, primary_key=True),
    sa.Column("fingerprint", sa.Text, nullable=False),
)

observations = sa.Table(
    "observations",
    metadata,
    sa.Column("id", _id(), primary_key=True),
    sa.Column("scope_id", sa.ForeignKey("scopes.id"), nullable=False),
    sa.Column("part", sa.Text, nullable=False),  # "" when the source has no parts
    sa.Column("ref", sa.Text, nullable=False),
    sa.Column("nature", sa.String(16), nullable=False),
    # sha256 of the payload: equal digests, equal observations (times included).
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("payload", _json(), nullable=False),  # Observation.to_json()
    sa.Index(None, "scope_id", "part"),
    # With the nature, an intent lookup by ref (and the list of refs with intent) reads
    # the index alone, not a row of the table per observation (migration 0010).
    sa.Index(None, "ref", "nature"),
)

observation_terms = sa.Table(
    "observation_terms",
    metadata,
    sa.Column("observation_id", sa.ForeignKey("observations.id"), nullable=False),
    sa.Column("term", sa.Text, nullable=False),
    sa.Index(None, "term", "observation_id"),
    sa.Index(None, "observation_id"),
)

assembly_state = sa.Table(
    "assembly_state",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", _json(), nullable=True),
)

entities = sa.Table(
    "entities",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", _name(), nullable=False),
    sa.Column("namespace", _name(), nullable=False),
    sa.Column("name", _name(), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),  # number of the current revision
    sa.Column("content_hash", sa.String(64), nullable=False),  # AssembledEntity.content_hash()
    sa.Column("document_hash", sa.String(64), nullable=False),  # sha256 of the stored document
    sa.Column(
        "findings_hash", sa.String(64), nullable=False
    ),  # sha256 of its findings, evidence too
    sa.Column("document", _json(), nullable=False),  # AssembledEntity.to_stored()
    # The Backstage document as the feed serves it, rendered once when it changes;
    # NULL when the entity is not emitted (it breaks Backstage's rules).
    sa.Column("feed_yaml", sa.Text, nullable=True),
    sa.Column("feed_json", sa.Text, nullable=True),
    sa.Column("owner", sa.Text, nullable=True),  # spec.owner as a full ref, for scorecards
    sa.Column("score", sa.Integer, nullable=False),  # the quality score, 0-100
    sa.Column("removed", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),  # when the current revision was written
    sa.Column("refreshed_at", UTCDateTime, nullable=False),  # when the document was last written
    # When the first status shown as fresh turns stale (NULL: never): the
    # freshness schedule, so expiry needs no scan of every entity.
    sa.Column("expires_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("kind", "namespace", "name"),
    # With ``removed``, counting the current entities (each commit does) and the
    # freshness schedule read this index alone, not the wide rows (migration 0010).
    sa.Index(None, "expires_at", "removed"),
    sa.Index(None, "owner", "kind", "namespace", "name"),  # one owner's entities, by ref
)

# The entities not served to Backstage (no feed document): few, so counting those
# that are (the sync's tally) reads this small index and the count of all, not every row.
sa.Index(
    "ix_entities_unserved",
    entities.c.removed,
    sqlite_where=entities.c.feed_yaml.is_(None),
    postgresql_where=entities.c.feed_yaml.is_(None),
)

entity_terms = sa.Table(
    "entity_terms",
    metadata,
    sa.Column("entity_id", sa.ForeignKey("entities.id"), nullable=False),
    sa.Column("term", sa.Text, nullable=False),
    sa.Index(None, "term", "entity_id"),
    sa.Index(None, "entity_id"),
)

revisions = sa.Table(
    "revisions",
    metadata,
    sa.Column("id", _id(), primary_key=True),
    sa.Column("entity_id", sa.ForeignKey("entities.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("run_id", sa.ForeignKey("sync_runs.id"), nullable=True),
    sa.Column("cause", sa.Text, nullable=False),
    sa.Column("change", sa.String(16), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=True),  # NULL for a removal
    # NULL for a removal, and while the revision shares the entity's document
    # (content_hash set): read it with store.history.revision_document().
    sa.Column("document", _json(), nullable=True),
    sa.UniqueConstraint("entity_id", "number"),
    sa.Index(None, "run_id"),
)

findings = sa.Table(
    "findings",
    metadata,
    sa.Column("id", _id(), primary_key=True),
    sa.Column("entity_id", sa.ForeignKey("entities.id"), nullable=True),  # NULL: not an entity's
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("evidence", _json(), nullable=False),
    sa.Index(None, "entity_id"),
    sa.Index(None, "code"),
)

sync_runs = sa.Table(
    "sync_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("committed_at", UTCDateTime, nullable=True),  # set by the commit transaction
    # Commits in the order they landed, 1, 2, 3… (migration 0007): runs overlap, so the
    # run that commits last need not have the highest id. Its max is the store generation.
    sa.Column("commit_number", sa.Integer, nullable=True),
    # The last commit (up to this one) that wrote an entity row (migration 0009): the
    # feed's ETag, which a commit that changed nothing leaves as it was. NULL: its number.
    sa.Column("feed_generation", sa.Integer, nullable=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("trigger", sa.String(255), nullable=False),
    sa.Column("sources", _json(), nullable=False),
    sa.Column("summary", _json(), nullable=False),
    # Who runs it (migration 0002): a run left "running" by a dead owner is interrupted.
    sa.Column("owner_host", sa.String(255), nullable=True),
    sa.Column("owner_pid", sa.Integer, nullable=True),
    sa.Column("owner_started", sa.String(32), nullable=True),
    sa.Index(None, "commit_number", unique=True),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", _id(), primary_key=True),
    sa.Column("delivery_id", sa.String(255), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("source", sa.String(255), nullable=False),
    sa.Column("event", sa.String(255), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.UniqueConstraint("delivery_id"),
)

jobs = sa.Table(
    "jobs",
    metadata,
    # The durable queue of the single-process server (SQLite); with PostgreSQL the
    # job queue is procrastinate's and this table stays empty.
    sa.Column("id", _id(), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("target", sa.Text, nullable=False),  # "source" or "source/scope"
    sa.Column("payload", _json(), nullable=False),
    sa.Column("state", sa.String(32), nullable=False),  # todo, doing, done, failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=True),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index(None, "state", "id"),
    sa.Index(None, "kind", "target", "state"),
)

schedules = sa.Table(
    "schedules",
    metadata,
    # When each source is next due for its periodic sync, and how its last runs went.
    sa.Column("source", sa.String(255), primary_key=True),
    sa.Column("last_started_at", UTCDateTime, nullable=True),
    sa.Column("last_finished_at", UTCDateTime, nullable=True),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_due_at", UTCDateTime, nullable=True),
)
