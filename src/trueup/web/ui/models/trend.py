"""The quality-score trend of every owner, day by day, from the stored history.

:class:`ScoreTrend` replays revisions (:meth:`trueup.store.overview.Overview.score_changes`)
in the order they were written and keeps, for each owner and for the whole
catalog, the mean score of the entities current at the end of each day (UTC).
It is incremental: it remembers the last revision id it saw, so after a sync
the dashboard reads only the revisions written since. Pure (no I/O); the
scorecard routes hold one per process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from trueup.checks.scorecard import NO_OWNER, mean_score
from trueup.model.ref import EntityRef
from trueup.store.overview import ScoreChange

EVERYONE = "\0everyone"  # the key of the whole catalog's trend


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One day: the mean score of the owner's entities at its end, and how many there were."""

    day: date
    score: int
    entities: int


class ScoreTrend:
    """Daily mean scores per owner, built from revisions one batch at a time."""

    def __init__(self) -> None:
        self.last_id = 0
        self._current: dict[EntityRef, tuple[str, int]] = {}  # ref -> (owner key, score)
        self._sums: dict[str, list[int]] = {}  # owner key -> [score total, entities]
        self._day: date | None = None
        self._closed: dict[date, dict[str, tuple[int, int]]] = {}  # end-of-day sums
        self._ends: dict[date, dict[str, tuple[int, int]]] | None = None  # made once per add

    def add(self, changes: Iterable[ScoreChange]) -> None:
        """Apply revisions written after :attr:`last_id`, oldest first."""
        self._ends = None
        for change in changes:
            if change.id <= self.last_id:
                continue
            day = change.at.date()
            if self._day is not None and day > self._day:
                self._close(self._day)
            if self._day is None or day > self._day:
                self._day = day
            self._apply(change)
            self.last_id = change.id

    def _close(self, day: date) -> None:
        self._closed[day] = {key: (total, n) for key, (total, n) in self._sums.items() if n}

    def _apply(self, change: ScoreChange) -> None:
        previous = self._current.pop(change.ref, None)
        if previous is not None:
            self._shift(previous[0], -previous[1], -1)
        if change.score is None:  # removed
            return
        key = change.owner or NO_OWNER
        self._current[change.ref] = (key, change.score)
        self._shift(key, change.score, 1)

    def _shift(self, key: str, score: int, entities: int) -> None:
        for k in (key, EVERYONE):
            sums = self._sums.setdefault(k, [0, 0])
            sums[0] += score
            sums[1] += entities

    def series(self, owner: str, *, today: date, days: int = 90) -> list[TrendPoint]:
        """One point per day, at most ``days`` back from ``today``, on which the owner had
        entities; a day without changes repeats the day before. ``owner`` is a full ref,
        :data:`~trueup.checks.scorecard.NO_OWNER` or :data:`EVERYONE`."""
        ends = self._endings()
        start = today - timedelta(days=days - 1)
        known: tuple[int, int] | None = None
        for day in sorted(ends):  # the state the window starts in
            if day >= start:
                break
            known = ends[day].get(owner)
        points: list[TrendPoint] = []
        day = start
        while day <= today:
            if day in ends:
                known = ends[day].get(owner)
            if known is not None and known[1] > 0:
                points.append(TrendPoint(day, mean_score(*known), known[1]))
            day += timedelta(days=1)
        return points

    def _endings(self) -> dict[date, dict[str, tuple[int, int]]]:
        """Each day's end state, today's (so far) included; kept until the next :meth:`add`."""
        if self._ends is None:
            self._ends = dict(self._closed)
            if self._day is not None:
                self._ends[self._day] = {k: (t, n) for k, (t, n) in self._sums.items() if n}
        return self._ends
