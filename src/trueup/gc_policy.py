"""Full garbage collections held off while a sync holds its reads.

A sync keeps everything it read (every observation of every scope) alive until
its commit ends. CPython's cyclic collector runs a full collection each time
the objects that survived into its oldest generation grow by a quarter, and
each full collection walks every one of them: at 100,000 entities that was 29
walks over the whole world, about 20 s of a cold sync's 130 s. Reference
counting frees what a sync drops either way; only cycles wait for the cyclic
collector, and a sync makes few (the peak memory of a 100,000-entity cold sync
is the same with and without full collections).

:func:`reads_held` raises the oldest generation's threshold for as long as a
sync runs, so young collections go on and full ones wait. It raises the
youngest generation's too (:data:`YOUNG_THRESHOLD` allocations between young
collections, CPython's default is 700): most of what a sync allocates (parsed
values, rows, texts) is dropped within a few thousand allocations, and a young
collection walks everything allocated since the last one that is still alive, so
rarer ones walk less of it (1.1 % of a 3,000-entity cold sync's instructions).
The thresholds in force before come back when the last sync of the process
ends, and the next full collection then happens as it normally would. A server whose syncs
overlap with no gap between them still gets one full collection every
:data:`HOLD_LIMIT_SECONDS`, run when one of its syncs ends, so cycles never
pile up for good.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Full collections wait for this many young (second-generation) collections:
# far more than any sync makes (about 1,300 at 100,000 entities).
HELD_THRESHOLD = 1_000_000


# Container allocations between young collections while a sync runs: a young generation
# of at most this many objects is a few megabytes.
YOUNG_THRESHOLD = 100_000


# The longest time full collections wait while syncs overlap without a gap.
HOLD_LIMIT_SECONDS = 600.0


class _Hold:
    """How many syncs of this process are running, and the threshold from before the first."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.depth = 0
        self.saved: tuple[int, int, int] = gc.get_threshold()
        self.since = 0.0  # when full collections last ran or began to wait

    def enter(self) -> None:
        with self.lock:
            if self.depth == 0:
                self.saved = gc.get_threshold()
                _, middle, _ = self.saved
                gc.set_threshold(YOUNG_THRESHOLD, middle, HELD_THRESHOLD)
                self.since = self.clock()
            self.depth += 1

    def leave(self) -> None:
        with self.lock:
            self.depth -= 1
            if self.depth == 0:
                gc.set_threshold(*self.saved)
                return
            overdue = self.clock() - self.since >= HOLD_LIMIT_SECONDS
            if overdue:
                self.since = self.clock()
        if overdue:  # other syncs still run: one full collection now, outside the lock
            gc.collect()


_hold = _Hold()


@contextmanager
def reads_held() -> Iterator[None]:
    """Full collections wait until this block (and any other in the process) ends."""
    _hold.enter()
    try:
        yield
    finally:
        _hold.leave()
