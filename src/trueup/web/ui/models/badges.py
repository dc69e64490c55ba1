"""The badges beside an entity: findings by severity, stale, drift, discovered, not served.

Shared by the catalog rows, the entity page header and the scorecard's entity
lists, so a badge means the same everywhere. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from trueup.model.assembled import AssembledEntity
from trueup.model.finding import Code, Severity
from trueup.views.quality import counts


@dataclass(frozen=True, slots=True)
class Badge:
    """One badge: its words, a tone for the stylesheet, and a longer explanation."""

    label: str
    tone: str  # error, warning, info, stale, drift, discovered, muted
    title: str


def is_stale(entity: AssembledEntity) -> bool:
    """Some status of the entity is past its source's ``max_age`` (shown as Unknown)."""
    return any(place.stale for place in entity.places)


def is_drifting(entity: AssembledEntity) -> bool:
    return any(f.code == Code.DRIFT.value for f in entity.findings)


def badges(entity: AssembledEntity, *, removed: bool = False) -> list[Badge]:
    """The badges of one entity, worst first."""
    found: list[Badge] = []
    if removed:
        found.append(Badge("removed", "muted", "No source reports it any more; history is kept."))
    by_severity = counts(entity.findings)
    for severity in Severity:
        n = by_severity[severity.value]
        if n:
            noun = severity.value if n == 1 else f"{severity.value}s"
            found.append(Badge(f"{n} {noun}", severity.value, f"{n} {severity.value} finding(s)"))
    if is_stale(entity):
        found.append(
            Badge("stale", "stale", "Some status is older than its source's max_age: Unknown.")
        )
    if is_drifting(entity):
        found.append(Badge("drift", "drift", "What runs differs from what git declares."))
    if entity.discovered:
        found.append(
            Badge("discovered", "discovered", "Found running; no intent source declares it.")
        )
    if not entity.emitted:
        found.append(
            Badge("not served", "error", "Breaks Backstage's rules: kept out of the feed.")
        )
    return found
