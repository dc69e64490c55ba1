"""Persistence: snapshots, assembled entities, their full history, findings and runs.

The pipeline writes through :class:`Store` (one transaction per sync result); the
API, feed, dashboard and CLI read through it. SQLite and PostgreSQL are both
first-class; the schema is managed by the Alembic migrations shipped in
``trueup/store/migrations`` (:meth:`Store.upgrade`, ``trueup db upgrade``).
"""

from trueup.store.records import (
    Change,
    CommitSummary,
    Revision,
    ScopeHealth,
    StoredEntity,
    SyncRun,
)
from trueup.store.store import Store

__all__ = [
    "Change",
    "CommitSummary",
    "Revision",
    "ScopeHealth",
    "Store",
    "StoredEntity",
    "SyncRun",
]
