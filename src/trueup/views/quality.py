"""The check view: every finding, the counts, the scores and the per-owner scorecard.

``trueup check --format json`` prints :func:`check_view`; the API's
``/api/v1/findings`` and ``/api/v1/scorecard`` return its parts, and the
dashboard's findings view renders the scorecard.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from trueup.checks.scorecard import scorecard
from trueup.model.assembled import EntityScore
from trueup.model.finding import Finding, Severity

_DIGITS = re.compile(r"(\d+)")


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Worst first, then by subject, code and message: the order every view shows
    (numbers in subject and message as numbers, :func:`natural_key`)."""
    return sorted(
        findings,
        key=lambda f: (-f.severity.rank, natural_key(f.subject), f.code, natural_key(f.message)),
    )


def natural_key(text: str) -> tuple[str | int, ...]:
    """``text`` as runs of non-digits and numbers, so "document 2" sorts before
    "document 10" (the runs alternate, so tuples compare str with str, int with int)."""
    return tuple(int(run) if i % 2 else run for i, run in enumerate(_DIGITS.split(text)))


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
