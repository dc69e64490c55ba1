"""The check protocol and what a check sees."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from trueup.model.assembled import PlaceStatus
from trueup.model.finding import Finding, Severity
from trueup.model.ref import EntityRef
from trueup.model.repository import Head


@dataclass(frozen=True, slots=True)
class Draft:
    """A merged entity as the checks see it."""

    ref: EntityRef
    entity: Mapping[str, Any]
    places: tuple[PlaceStatus, ...]
    declared: bool  # some intent source declares it
    observed: bool  # some actual source observes it


@dataclass(frozen=True)
class CheckContext:
    """The catalog around the entity being checked."""

    refs: frozenset[EntityRef]
    required_fields: Mapping[str, Sequence[str]] = field(default_factory=dict)
    actual_sources: bool = False  # at least one actual source is configured
    heads: Mapping[str, Head] = field(default_factory=dict)  # repository key -> branch head


class Check(Protocol):
    def check(self, draft: Draft, context: CheckContext) -> Iterable[Finding]: ...


def apply_severity(findings: Iterable[Finding], overrides: Mapping[str, Severity]) -> list[Finding]:
    """Configured severities replace the defaults, code by code."""
    return [replace(f, severity=overrides[f.code]) if f.code in overrides else f for f in findings]


def penalty(severity: Severity) -> int:
    return {Severity.ERROR: 25, Severity.WARNING: 10, Severity.INFO: 2}[severity]


def quality_score(findings: Iterable[Finding]) -> int:
    """100 minus 25 per error, 10 per warning and 2 per info finding, never below 0."""
    return max(0, 100 - sum(penalty(f.severity) for f in findings))


def count_summary(findings: Iterable[Finding]) -> str:
    """``error=1,warning=2`` (only non-zero counts), or ``none``."""
    counts = {s: 0 for s in Severity}
    for f in findings:
        counts[f.severity] += 1
    parts = [f"{s.value}={n}" for s, n in counts.items() if n]
    return ",".join(parts) or "none"
