"""The scorecards' model: each owner's quality score, findings by code, stale and drifting
entities, and the trend of the score from the stored history.

The per-owner rows come from :func:`trueup.checks.scorecard.scorecard` (the same
numbers ``trueup check --by-owner`` and ``/api/v1/scorecard`` give); this module
adds how many of the owner's entities are stale or drifting, and the trend from
:class:`~trueup.web.ui.models.trend.ScoreTrend`. Called by
:mod:`trueup.web.ui.scorecard`; pure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from trueup.checks.scorecard import NO_OWNER, mean_score, scorecard
from trueup.model.assembled import EntityScore
from trueup.model.finding import Code, Finding
from trueup.views.quality import counts
from trueup.web.ui.models.chart import LineChart, line_chart
from trueup.web.ui.models.trend import EVERYONE, ScoreTrend, TrendPoint

TREND_DAYS = 90


@dataclass(frozen=True, slots=True)
class OwnerCard:
    owner: str
    entities: int
    score: int
    by_severity: dict[str, int]
    by_code: Sequence[tuple[str, int]]  # most first
    worst: Sequence[str]  # refs of the lowest-scoring entities with findings
    stale: int  # entities with a stale finding
    drifting: int  # entities with a drift finding
    trend: Sequence[TrendPoint]
    spark: LineChart


@dataclass(frozen=True, slots=True)
class Scorecards:
    """Every owner's card, worst first, and the whole catalog's figures."""

    cards: Sequence[OwnerCard]
    entities: int
    score: int
    counts: dict[str, int]  # findings by severity, all subjects
    by_code: Sequence[tuple[str, int]]
    trend: Sequence[TrendPoint]
    chart: LineChart
    _by_owner: dict[str, OwnerCard] = field(default_factory=dict)

    def card(self, owner: str) -> OwnerCard | None:
        return self._by_owner.get(owner)


def scorecards(
    scores: Sequence[EntityScore],
    findings: Sequence[Finding],
    trend: ScoreTrend,
    today: date,
) -> Scorecards:
    """The scorecards of the current catalog and its history up to ``today``."""
    owner_of = {str(s.ref): s.owner or NO_OWNER for s in scores}
    problems: dict[str, Counter[str]] = {}
    for code in (Code.STALE.value, Code.DRIFT.value):
        subjects = {f.subject for f in findings if f.code == code and f.subject in owner_of}
        problems[code] = Counter(owner_of[s] for s in subjects)
    cards = []
    for row in scorecard(scores, findings):
        points = trend.series(row.owner, today=today, days=TREND_DAYS)
        cards.append(
            OwnerCard(
                owner=row.owner,
                entities=row.entities,
                score=row.score,
                by_severity=dict(sorted(row.by_severity.items())),
                by_code=_most_first(row.by_code.items()),
                worst=[ref for _, ref in sorted(row.worst)[:5]],
                stale=problems[Code.STALE.value][row.owner],
                drifting=problems[Code.DRIFT.value][row.owner],
                trend=points,
                spark=line_chart(points, width=120, height=32, compact=True),
            )
        )
    overall = trend.series(EVERYONE, today=today, days=TREND_DAYS)
    total = sum(s.score for s in scores)
    return Scorecards(
        cards=cards,
        entities=len(scores),
        score=mean_score(total, len(scores)),
        counts=counts(findings),
        by_code=_most_first(Counter(f.code for f in findings).items()),
        trend=overall,
        chart=line_chart(overall),
        _by_owner={c.owner: c for c in cards},
    )


def _most_first(pairs: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    return sorted(pairs, key=lambda pair: (-pair[1], pair[0]))
