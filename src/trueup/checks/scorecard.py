"""The per-owner data-quality scorecard, computed from entities and their findings.

Called by ``trueup check`` (and later the dashboard's findings view). An owner
is the entity's ``spec.owner`` as a full reference (``group:default/team-a``);
entities without one are counted under ``(no owner)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from trueup.errors import RefError
from trueup.model.assembled import AssembledEntity
from trueup.model.ref import parse_ref

NO_OWNER = "(no owner)"


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
        """The mean quality score of the owner's entities, rounded."""
        return round(self.score_total / self.entities) if self.entities else 100

    def to_json(self) -> dict[str, object]:
        return {
            "owner": self.owner,
            "entities": self.entities,
            "score": self.score,
            "by_severity": dict(sorted(self.by_severity.items())),
            "by_code": dict(sorted(self.by_code.items())),
            "worst": [ref for _, ref in sorted(self.worst)[:5]],
        }


def owner_of(entity: AssembledEntity) -> str:
    spec = entity.entity.get("spec") or {}
    raw = spec.get("owner") if isinstance(spec, dict) else None
    if not isinstance(raw, str) or not raw:
        return NO_OWNER
    try:
        return str(parse_ref(raw, default_kind="group", default_namespace=entity.ref.namespace))
    except RefError:
        return raw


def scorecard(entities: Iterable[AssembledEntity]) -> list[OwnerScore]:
    """One row per owner, worst score first."""
    rows: dict[str, OwnerScore] = {}
    for entity in entities:
        row = rows.setdefault(owner_of(entity), OwnerScore(owner_of(entity)))
        row.entities += 1
        row.score_total += entity.score
        for f in entity.findings:
            row.by_severity[f.severity.value] = row.by_severity.get(f.severity.value, 0) + 1
            row.by_code[f.code] = row.by_code.get(f.code, 0) + 1
        if entity.findings:
            row.worst.append((entity.score, str(entity.ref)))
    return sorted(rows.values(), key=lambda r: (r.score, r.owner))
