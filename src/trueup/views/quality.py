"""The check view: every finding, the counts, the scores and the per-owner scorecard.

``trueup check --format json`` prints :func:`check_view`; the API's
``/api/v1/findings`` and ``/api/v1/scorecard`` return its parts, and the
dashboard's findings view renders the scorecard.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from trueup.checks.scorecard import scorecard
from trueup.model.assembled import EntityScore
from trueup.model.finding import Finding, Severity


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Worst first, then by subject, code and message: the order every view shows."""
    return sorted(findings, key=lambda f: (-f.severity.rank, f.subject, f.code, f.message))


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    """How many findings of each severity (every severity present, zero included)."""
    listed = list(findings)
    return {s.value: sum(1 for f in listed if f.severity is s) for s in Severity}


def scorecard_rows(scores: Sequence[EntityScore], findings: Iterable[Finding]) -> list[Any]:
    """The scorecard, one JSON row per owner, worst mean score first."""
    return [row.to_json() for row in scorecard(scores, findings)]


def check_view(findings: Sequence[Finding], scores: Sequence[EntityScore]) -> dict[str, Any]:
    """The whole check shape (docs/cli-json.md); ``findings`` already :func:`ordered`."""
    return {
        "findings": [f.to_json() for f in findings],
        "counts": counts(findings),
        "scores": {str(e.ref): e.score for e in scores},
        "scorecard": scorecard_rows(scores, findings),
    }
