"""Full collections held during syncs, and never held for good when syncs overlap."""

from __future__ import annotations

import gc

from trueup.gc_policy import HELD_THRESHOLD, HOLD_LIMIT_SECONDS, YOUNG_THRESHOLD, _Hold


def _full_collections() -> int:
    return int(gc.get_stats()[2]["collections"])


def test_overlapping_syncs_still_get_a_full_collection_once_the_hold_is_overdue() -> None:
    before = gc.get_threshold()
    now = [1000.0]
    hold = _Hold(clock=lambda: now[0])
    try:
        hold.enter()  # one sync
        hold.enter()  # another, overlapping it
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], HELD_THRESHOLD)
        hold.leave()  # the second ends early: nothing is due
        hold.enter()
        full = _full_collections()
        now[0] += HOLD_LIMIT_SECONDS  # syncs have overlapped for the whole limit
        hold.leave()
        assert _full_collections() == full + 1
        assert gc.get_threshold()[2] == HELD_THRESHOLD  # the sync still running keeps the hold
        hold.enter()
        hold.leave()  # the limit counts again from that collection
        assert _full_collections() == full + 1
    finally:
        while hold.depth:
            hold.leave()
    assert gc.get_threshold() == before
