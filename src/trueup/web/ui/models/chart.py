"""The geometry of a score chart, for a server-rendered inline SVG (no JavaScript).

:func:`line_chart` maps :class:`~trueup.web.ui.models.trend.TrendPoint` onto an
SVG view box: x is the day, y the score from a floor under the lowest point up
to 100 (so a drop of a few points shows, and the top always means perfect), one
dot per day with its words for a tooltip, axis ticks, and a sentence that says
what the chart shows for screen readers. The ``chart`` macro of
``templates/macros.html`` draws it; pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trueup.web.ui.models.trend import TrendPoint

_FULL = (36, 12, 10, 26)  # margins left, right, top, bottom: room for the axis labels
_COMPACT = (3, 3, 3, 3)  # a sparkline: no axes


@dataclass(frozen=True, slots=True)
class Dot:
    x: float
    y: float
    label: str  # "2026-12-01: score 87 over 40 entities"


@dataclass(frozen=True, slots=True)
class Tick:
    at: float  # x or y in the view box
    label: str
    anchor: str = "end"  # SVG text-anchor: start, middle or end


@dataclass(frozen=True, slots=True)
class LineChart:
    width: int
    height: int
    line: str  # the polyline's points, "x,y x,y …"
    dots: Sequence[Dot]
    y_ticks: Sequence[Tick]
    x_ticks: Sequence[Tick]
    summary: str
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float


def line_chart(
    points: Sequence[TrendPoint], *, width: int = 640, height: int = 200, compact: bool = False
) -> LineChart:
    """The chart of ``points`` (one per day, in order); an empty chart says there is no data.
    ``compact``: a sparkline without axes."""
    left, right_margin, top, bottom_margin = _COMPACT if compact else _FULL
    right, bottom = width - right_margin, height - bottom_margin

    floor = score_floor(points)

    def y(score: float) -> float:
        return round(top + (bottom - top) * (100 - score) / (100 - floor), 1)

    steps = [floor + (100 - floor) * i // 4 for i in range(5)]
    y_ticks = [] if compact else [Tick(y(s), str(s)) for s in steps]
    if not points:
        empty = "No history yet."
        return LineChart(width, height, "", (), y_ticks, (), empty, left, right, top, bottom)
    first, last = points[0].day, points[-1].day
    days = max((last - first).days, 1)
    span = right - left

    def x(point: TrendPoint) -> float:
        if len(points) == 1:
            return round(left + span / 2, 1)
        return round(left + span * (point.day - first).days / days, 1)

    dots = [
        Dot(
            x(p),
            y(p.score),
            f"{p.day.isoformat()}: score {p.score} over {p.entities} "
            + ("entity" if p.entities == 1 else "entities"),
        )
        for p in points
    ]
    picks = sorted({0, (len(points) - 1) // 2, len(points) - 1})
    anchors = {0: "start", len(points) - 1: "end"} if len(points) > 1 else {}
    x_ticks = (
        []
        if compact
        else [
            Tick(dots[i].x, points[i].day.strftime("%b %d"), anchors.get(i, "middle"))
            for i in picks
        ]
    )
    return LineChart(
        width=width,
        height=height,
        line=" ".join(f"{d.x},{d.y}" for d in dots),
        dots=dots,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        summary=describe(points),
        plot_left=left,
        plot_right=right,
        plot_top=top,
        plot_bottom=bottom,
    )


def score_floor(points: Sequence[TrendPoint]) -> int:
    """The bottom of the y axis: 10 under the lowest score, down to a multiple of 10
    (0 for scores under 10, at most 90)."""
    if not points:
        return 0
    lowest = min(p.score for p in points)
    return max(0, min(90, (lowest - 10) // 10 * 10))


def describe(points: Sequence[TrendPoint]) -> str:
    """The chart in one sentence: where the score started, where it is, and the low point."""
    if not points:
        return "No history yet."
    first, last = points[0], points[-1]
    if len(points) == 1:
        return f"Score {last.score} on {last.day.isoformat()}; one day of history so far."
    low = min(points, key=lambda p: (p.score, p.day))
    direction = (
        "rose" if last.score > first.score else "fell" if last.score < first.score else "held"
    )
    return (
        f"Score {direction} from {first.score} on {first.day.isoformat()} to {last.score} on "
        f"{last.day.isoformat()}; lowest {low.score} on {low.day.isoformat()}."
    )
