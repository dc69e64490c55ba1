"""Where one sync's time went: its steps' wall seconds, for its run record and the CLI.

A sync reads each source, commits (the store applies the reads, then assembles
and writes what they changed) and writes each sink. :class:`Timings` keeps the
wall time of each, in the order they ran, so an operator sees which source or
sink is slow (``trueup sync`` prints it; the run record keeps it under
``seconds``) and a benchmark can print where a cold sync spends its time
without a profiler. A step that runs again (a commit retried after another
sync committed first) adds to its time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any


class Timings:
    """Wall seconds by step: ``read`` and ``sinks`` by source and sink, ``commit``
    with its parts, and the ``total`` from the sync's start."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._started = clock()
        self.read: dict[str, float] = {}  # by source id
        self.commit = 0.0
        # The store's own measure of its parts (CommitResult.seconds): "apply" (the reads
        # to the stored rows), "assemble" (assembling and writing what they changed).
        self.commit_parts: dict[str, float] = {}
        self.sinks: dict[str, float] = {}  # by sink name
        self._stopped: float | None = None

    @contextmanager
    def reading(self, source: str) -> Iterator[None]:
        with self._timed(self.read, source):
            yield

    @contextmanager
    def committing(self) -> Iterator[None]:
        started = self._clock()
        try:
            yield
        finally:
            self.commit += self._clock() - started

    def commit_reported(self, parts: Mapping[str, float]) -> None:
        """Add the parts of one commit attempt, as the store measured them."""
        for name, seconds in parts.items():
            self.commit_parts[name] = self.commit_parts.get(name, 0.0) + seconds

    @contextmanager
    def writing(self, sink: str) -> Iterator[None]:
        with self._timed(self.sinks, sink):
            yield

    def stop(self) -> None:
        """The sync is done (its run record is written next): the total stops here."""
        self._stopped = self._clock()

    def total(self) -> float:
        return (self._stopped if self._stopped is not None else self._clock()) - self._started

    def to_json(self) -> dict[str, Any]:
        """For the run record: seconds, to the millisecond."""
        return {
            "read": _rounded(self.read),
            "commit": round(self.commit, 3),
            "commit_parts": _rounded(self.commit_parts),
            "sinks": _rounded(self.sinks),
            "total": round(self.total(), 3),
        }

    @contextmanager
    def _timed(self, into: dict[str, float], name: str) -> Iterator[None]:
        started = self._clock()
        try:
            yield
        finally:
            into[name] = into.get(name, 0.0) + self._clock() - started


def describe(seconds: Mapping[str, Any]) -> str:
    """One line from a run record's ``seconds``:
    ``74.5 s: read 11.4 s (repos 7.30 s, clusters 4.10 s), commit 49.2 s (…), sinks …``."""
    parts = []
    if read := seconds.get("read"):
        parts.append(_group("read", read))
    commit_parts = seconds.get("commit_parts") or {}
    inner = ", ".join(f"{_NAMED.get(k, k)} {_s(v)}" for k, v in commit_parts.items())
    parts.append(f"commit {_s(seconds.get('commit', 0.0))}" + (f" ({inner})" if inner else ""))
    if sinks := seconds.get("sinks"):
        parts.append(_group("sinks", sinks))
    return f"{_s(seconds.get('total', 0.0))}: " + ", ".join(parts)


_NAMED = {"apply": "applying reads", "assemble": "assembling and writing"}


def _group(label: str, by_name: Mapping[str, float]) -> str:
    """``read repos 7.30 s``, or ``read 11.4 s (repos 7.30 s, clusters 4.10 s)``."""
    if len(by_name) == 1:
        ((name, seconds),) = by_name.items()
        return f"{label} {name} {_s(seconds)}"
    each = ", ".join(f"{name} {_s(v)}" for name, v in by_name.items())
    return f"{label} {_s(sum(by_name.values()))} ({each})"


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def _rounded(by_name: Mapping[str, float]) -> dict[str, float]:
    return {name: round(seconds, 3) for name, seconds in by_name.items()}
