"""A source's ``interval`` lowered in trueup.yaml takes effect at the next start.

The stored next-due time was set under the old interval; the first tick of a
server on the new configuration pulls it in, so the source is not left unread
until the old, later time. A time the current interval could have set (with its
jitter) is left as it is.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trueup.config import Config, parse_config
from trueup.scheduler.local import LocalQueue
from trueup.scheduler.ticker import submit_due
from trueup.store import Store

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def configured(interval: str) -> Config:
    return parse_config(
        "database: sqlite:///unused.db\n"
        "sources:\n"
        f"  - {{id: a, type: file, path: a, interval: {interval}}}\n"
        "  - {id: b, type: file, path: b, interval: 1h}\n",
        "trueup.yaml",
        {},
    )


def ran(store: Store, source: str, started: datetime, next_due: datetime) -> None:
    """Record a finished periodic run, as the runner does."""
    operations = store.operations()
    operations.schedule_started(source, started)
    operations.schedule_finished(source, now=started, failed=False, next_due_at=next_due)


def next_due(store: Store) -> dict[str, datetime | None]:
    return {source: s.next_due_at for source, s in store.operations().schedules().items()}


def test_a_source_read_before_its_interval_was_lowered_is_due_at_once(store: Store) -> None:
    ran(store, "a", T0, T0 + 66 * MINUTE)  # an hourly source, 6 minutes of jitter late
    ran(store, "b", T0, T0 + 66 * MINUTE)
    queue = LocalQueue()
    assert submit_due(configured("1h"), store, queue, T0 + 10 * MINUTE) == []
    # Restarted with `interval: 1m`: its last read is 10 minutes old.
    submitted = submit_due(configured("1m"), store, queue, T0 + 10 * MINUTE)
    assert [job.source for job in submitted] == ["a"]
    assert next_due(store) == {"a": T0 + 11 * MINUTE, "b": T0 + 66 * MINUTE}


def test_a_source_lowered_before_it_ever_ran_is_due_one_new_interval_on(store: Store) -> None:
    queue = LocalQueue()
    assert [job.source for job in submit_due(configured("1h"), store, queue, T0)] == ["a", "b"]
    assert next_due(store) == {"a": T0 + 60 * MINUTE, "b": T0 + 60 * MINUTE}
    # The server stopped before the jobs ran; it starts again with `interval: 10m`.
    later = T0 + 2 * MINUTE
    assert submit_due(configured("10m"), store, queue, later) == []
    assert next_due(store) == {"a": later + 10 * MINUTE, "b": T0 + 60 * MINUTE}
    assert submit_due(configured("10m"), store, queue, later + 10 * MINUTE)[0].source == "a"


def test_a_time_the_interval_and_its_jitter_could_set_is_kept(store: Store) -> None:
    ran(store, "a", T0, T0 + 66 * MINUTE)  # 1h + 10 % jitter, the most the default allows
    ran(store, "b", T0, T0 + 54 * MINUTE)
    assert submit_due(configured("1h"), store, LocalQueue(), T0) == []
    assert next_due(store) == {"a": T0 + 66 * MINUTE, "b": T0 + 54 * MINUTE}
