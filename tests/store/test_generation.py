"""Optimistic concurrency: a commit assembled from an older generation is refused whole."""

from __future__ import annotations

import pytest

from trueup.errors import ConcurrentCommitError
from trueup.store import Store

from .builders import assembled, at, ref, result


def test_a_commit_based_on_an_older_generation_writes_nothing(store: Store) -> None:
    assert store.generation() == 0
    first = store.start_run(trigger="test", sources=["catalog"], now=at(0))
    late = store.start_run(trigger="test", sources=["catalog"], now=at(0))
    store.commit(first, [], result(assembled("a")), now=at(1), cause="first", based_on=0)
    after_first = store.generation()
    assert after_first > 0
    with pytest.raises(ConcurrentCommitError):
        store.commit(late, [], result(assembled("b")), now=at(2), cause="late", based_on=0)
    assert store.entity(ref("b")) is None
    assert [str(e.ref) for e in store.entities()] == ["component:default/a"]
    store.commit(
        late,
        [],
        result(assembled("a"), assembled("b")),
        now=at(3),
        cause="again",
        based_on=after_first,
    )
    assert store.generation() > after_first


def test_a_commit_landing_after_a_later_started_one_moves_the_generation(store: Store) -> None:
    """Runs overlap: the one started first may commit last, and that commit counts too."""
    slow = store.start_run(trigger="slow", sources=["catalog"], now=at(0))
    quick = store.start_run(trigger="quick", sources=["catalog"], now=at(0))
    store.commit(quick, [], result(assembled("a")), now=at(1), cause="quick", based_on=0)
    seen = store.generation()
    store.commit(
        slow, [], result(assembled("a"), assembled("b")), now=at(2), cause="slow", based_on=seen
    )
    assert store.generation() != seen
    # A result assembled before the slow commit landed must not overwrite it.
    late = store.start_run(trigger="late", sources=["catalog"], now=at(3))
    with pytest.raises(ConcurrentCommitError):
        store.commit(late, [], result(assembled("a")), now=at(4), cause="late", based_on=seen)
    assert [str(e.ref) for e in store.entities()] == [
        "component:default/a",
        "component:default/b",
    ]
