"""Reading entities: ordered by ref like EntityRef, and streamed in batches."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from trueup.store import Store

from .builders import assembled, at, result


def pool(store: Store) -> sa.QueuePool:
    queue = store._engine.pool
    assert isinstance(queue, sa.QueuePool)
    return queue


def test_entities_are_ordered_like_entity_refs(store: Store) -> None:
    names = ["b", "a-b", "a", "a.b", "a_b", "ab", "a0", "z"]
    kinds = ["component", "api", "resource"]
    everything = [assembled(n, kind=k) for n in names for k in kinds]
    run = store.start_run(trigger="t", sources=[], now=at(0))
    store.commit(run, [], result(*everything), now=at(0), cause="t")
    assert [e.ref for e in store.entities()] == sorted(e.ref for e in everything)


def test_entities_stream_thousands_in_batches(store: Store) -> None:
    count = 3000
    run = store.start_run(trigger="t", sources=[], now=at(0))
    summary = store.commit(
        run, [], result(*(assembled(f"svc-{i:05d}") for i in range(count))), now=at(0), cause="t"
    )
    assert summary.created == count
    options: list[dict[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM entities" in statement:
            options.append(dict(args[-2].execution_options))

    sa.event.listen(store._engine, "before_cursor_execute", record)
    try:
        stream = store.entities()
        first = next(stream)
        assert first.ref.name == "svc-00000"
        assert options and options[-1].get("yield_per") == 1000
        assert pool(store).checkedout() == 1  # the cursor is still open, not drained
        rest = list(stream)
    finally:
        sa.event.remove(store._engine, "before_cursor_execute", record)
    assert len(rest) == count - 1
    assert rest[-1].ref.name == f"svc-{count - 1:05d}"
    assert pool(store).checkedout() == 0


def test_a_stream_stopped_early_gives_its_connection_back(store: Store) -> None:
    run = store.start_run(trigger="t", sources=[], now=at(0))
    store.commit(run, [], result(*(assembled(f"s{i}") for i in range(10))), now=at(0), cause="t")
    stream = store.entities()
    next(stream)
    stream.close()
    assert pool(store).checkedout() == 0
