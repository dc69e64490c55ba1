"""Commit numbers: the store generation, and the feed generation the feed's ETag is.

Writers are serialised at the start of a commit's transaction, so each commit is
numbered there, one more than the last (``sync_runs.commit_number``): the
*generation*, moved by every commit whichever run made it. A commit that wrote
no entity row (a sync that changed nothing, the common case) leaves the feed as
it was, so it also records the *feed generation* (``sync_runs.feed_generation``):
its own number when it wrote one, else the one before. The feed's ETag is that,
so Backstage's polls after such a sync are answered 304.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trueup.errors import ConcurrentCommitError, StoreError
from trueup.store.engine import serialise_writers
from trueup.store.records import CommitSummary
from trueup.store.schema import sync_runs


def begin_commit(conn: Connection, run_id: int, now: datetime, based_on: int | None) -> None:
    """Serialise writers, refuse a commit based on an older generation, number the commit.

    Read after the writers' lock (PostgreSQL reads committed data per statement), the
    generation is the last commit's number: this one is the next, whichever run it is.
    """
    serialise_writers(conn)
    landed = generation(conn)
    if based_on is not None and landed != based_on:
        raise ConcurrentCommitError(
            f"another commit landed after this result was assembled "
            f"(generation {based_on}, now {landed})"
        )
    marked = conn.execute(
        sa.update(sync_runs)
        .where(sync_runs.c.id == run_id)
        .values(committed_at=now, commit_number=landed + 1)
    )
    if marked.rowcount != 1:
        raise StoreError(f"commit refers to sync run {run_id}, which does not exist")


def end_commit(conn: Connection, run_id: int, summary: CommitSummary) -> None:
    """Record the feed generation of run ``run_id``'s commit, by what it wrote."""
    wrote = (
        summary.created + summary.changed + summary.removed + summary.restored + summary.rewritten
    )
    number = sync_runs.c.commit_number
    if wrote:
        value: sa.ColumnElement[int] | int = number
    else:
        before = feed_generation(conn, below=_number(conn, run_id))
        value = before
    conn.execute(sa.update(sync_runs).where(sync_runs.c.id == run_id).values(feed_generation=value))


def generation(conn: Connection) -> int:
    """The last commit's number, 0 before any (the max of a unique index: one lookup)."""
    return int(conn.execute(sa.select(sa.func.max(sync_runs.c.commit_number))).scalar() or 0)


def feed_generation(conn: Connection, below: int | None = None) -> int:
    """The feed generation of the last commit (numbered under ``below``), 0 before any.

    A commit from before migration 0009 has none: its own number stands for it.
    """
    query = sa.select(sa.func.coalesce(sync_runs.c.feed_generation, sync_runs.c.commit_number))
    query = query.where(sync_runs.c.commit_number.is_not(None))
    if below is not None:
        query = query.where(sync_runs.c.commit_number < below)
    found = conn.execute(query.order_by(sync_runs.c.commit_number.desc()).limit(1)).scalar()
    return int(found or 0)


def _number(conn: Connection, run_id: int) -> int:
    found = conn.execute(sa.select(sync_runs.c.commit_number).where(sync_runs.c.id == run_id))
    return int(found.scalar_one())
