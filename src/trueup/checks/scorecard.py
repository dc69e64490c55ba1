"""The per-owner data-quality scorecard, computed from entity scores and findings.

Called by ``trueup check`` (and later the dashboard's findings view) with the
store's light ``scores()`` read. An owner is the entity's ``spec.owner`` as a
full reference (``group:default/team-a``); entities without one are counted
under ``(no owner)``. :func:`mean_score` is the one rounding of a mean score,
for every view that shows one (the scorecard rows, the dashboard's cards,
catalog figure and trend).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from trueup.model.assembled import EntityScore
from trueup.model.finding import Finding

NO_OWNER = "(no owner)"


def mean_score(total: int, entities: int) -> int:
    """The mean of ``entities`` integer scores summing to ``total``, rounded half up
    (72.5 shows as 73, not as Python's ``round`` gives it); 100 when there are none."""
    if not entities:
        return 100
    return (2 * total + entities) // (2 * entities)


@dataclass
class OwnerScore:
    owner: str
    entities: int = 0
    score_total: int = 0
    by_severity: dict[str, int] = field(default_factory=dict)
    by_code: dict[str, int] = field(default_factory=dict)
    worst: list[tuple[int, str]] = field(default_factory=list)

    @property
    def score(self) -> int:
        """The mean quality score of the owner's entities, rounded half up."""
        return mean_score(self.score_total, self.entities)

    def to_json(self) -> dict[str, object]:
        return {
            "owner": self.owner,
            "entities": self.entities,
            "score": self.score,
            "by_severity": dict(sorted(self.by_severity.items())),
            "by_code": dict(sorted(self.by_code.items())),
            "worst": [ref for _, ref in sorted(self.worst)[:5]],
        }


def scorecard(scores: Iterable[EntityScore], findings: Iterable[Finding]) -> list[OwnerScore]:
    """One row per owner, worst score first; findings count for the entity they are about."""
    by_subject: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_subject[f.subject].append(f)
    rows: dict[str, OwnerScore] = {}
    for entity in scores:
        owner = entity.owner or NO_OWNER
        row = rows.setdefault(owner, OwnerScore(owner))
        row.entities += 1
        row.score_total += entity.score
        own = by_subject.get(str(entity.ref), ())
        for f in own:
            row.by_severity[f.severity.value] = row.by_severity.get(f.severity.value, 0) + 1
            row.by_code[f.code] = row.by_code.get(f.code, 0) + 1
        if own:
            row.worst.append((entity.score, str(entity.ref)))
    return sorted(rows.values(), key=lambda r: (r.score, r.owner))
