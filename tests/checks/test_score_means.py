"""A mean quality score rounds half up, the same wherever it is shown.

``trueup check --by-owner`` and ``/api/v1/scorecard`` (the scorecard rows), the
dashboard's scorecards (each owner's card, the whole catalog's figure and the
daily trend) all show means of integer scores: 72.5 is 73 everywhere, never 72
(Python's ``round`` rounds half to even).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from trueup.checks.scorecard import mean_score, scorecard
from trueup.model.assembled import EntityScore
from trueup.model.ref import parse_ref
from trueup.store.overview import ScoreChange
from trueup.store.records import Change
from trueup.views.quality import scorecard_rows
from trueup.web.ui.models.scorecard import scorecards
from trueup.web.ui.models.trend import EVERYONE, ScoreTrend

TEAM = "group:default/team-a"
SCORES = [EntityScore(parse_ref(f"component:default/svc-{s}"), TEAM, s) for s in (72, 73)]


@pytest.mark.parametrize(
    ("scores", "mean"),
    [((72, 73), 73), ((70, 75), 73), ((0, 1), 1), ((64, 65, 66, 66), 65), ((90,), 90)],
)
def test_a_mean_score_rounds_half_up(scores: tuple[int, ...], mean: int) -> None:
    assert mean_score(sum(scores), len(scores)) == mean


def test_no_entities_score_100() -> None:
    assert mean_score(0, 0) == 100


def test_the_owner_rows_of_check_and_the_api_round_half_up() -> None:
    (row,) = scorecard(SCORES, [])
    assert row.score == 73
    assert [r["score"] for r in scorecard_rows(SCORES, [])] == [73]


def test_the_dashboards_cards_catalog_and_trend_round_half_up() -> None:
    trend = ScoreTrend()
    trend.add(
        ScoreChange(i, s.ref, datetime(2026, 3, 1, 9, tzinfo=UTC), Change.CREATED, s.score, TEAM)
        for i, s in enumerate(SCORES, start=1)
    )
    cards = scorecards(SCORES, [], trend, date(2026, 3, 1))
    assert cards.score == 73
    card = cards.card(TEAM)
    assert card is not None and card.score == 73
    assert [p.score for p in card.trend] == [73]
    assert [p.score for p in trend.series(EVERYONE, today=date(2026, 3, 1))] == [73]
