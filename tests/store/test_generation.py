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
    assert store.generation() == first
    with pytest.raises(ConcurrentCommitError):
        store.commit(late, [], result(assembled("b")), now=at(2), cause="late", based_on=0)
    assert store.entity(ref("b")) is None
    assert [str(e.ref) for e in store.entities()] == ["component:default/a"]
    store.commit(
        late, [], result(assembled("a"), assembled("b")), now=at(3), cause="again", based_on=first
    )
    assert store.generation() == late
