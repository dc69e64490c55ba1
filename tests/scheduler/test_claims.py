"""Which job the local queue's worker takes next: the oldest one it may run now.

A source runs one job at a time, so the jobs of a busy source wait; however many
of them there are, a job of another source behind them is taken.
"""

from __future__ import annotations

from datetime import UTC, datetime

from trueup.scheduler.jobs import SyncJob
from trueup.scheduler.local import LocalQueue
from trueup.store import Store

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_a_job_behind_hundreds_of_a_busy_sources_jobs_is_taken(store: Store) -> None:
    queue = LocalQueue()
    with store.operations().transaction() as conn:
        # A push to each of 300 repositories of one GitHub organisation, while it syncs.
        for n in range(300):
            queue.submit(conn, SyncJob("org", f"acme/repo-{n}", trigger="webhook github"), T0)
        behind = queue.submit(conn, SyncJob("other", "acme/other", trigger="webhook github"), T0)
        periodic = queue.submit(conn, SyncJob("files"), T0)
    claimed = store.operations().claim_job(T0, busy=frozenset({"org"}))
    assert claimed is not None and claimed.id == behind.job_id
    assert claimed.target == "other/acme/other" and claimed.attempts == 1
    last = store.operations().claim_job(T0, busy=frozenset({"org", "other"}))
    assert last is not None and last.id == periodic.job_id
    assert store.operations().claim_job(T0, busy=frozenset({"org", "other", "files"})) is None
    assert store.operations().job_states() == {"todo": 300, "doing": 2}


def test_a_busy_source_holds_back_its_own_jobs_only(store: Store) -> None:
    queue = LocalQueue()
    with store.operations().transaction() as conn:
        mine = queue.submit(conn, SyncJob("a_b", "x"), T0)
        lookalike = queue.submit(conn, SyncJob("axb", "x"), T0)  # `_` is no wildcard here
        whole = queue.submit(conn, SyncJob("a"), T0)
    claimed = store.operations().claim_job(T0, busy=frozenset({"a_b", "a"}))
    assert claimed is not None and claimed.id == lookalike.job_id
    assert store.operations().claim_job(T0, busy=frozenset({"a_b", "a", "axb"})) is None
    first = store.operations().claim_job(T0, busy=frozenset({"axb"}))
    assert first is not None and first.id == mine.job_id
    second = store.operations().claim_job(T0, busy=frozenset({"axb", "a_b"}))
    assert second is not None and second.id == whole.job_id
