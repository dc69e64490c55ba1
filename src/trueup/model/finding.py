"""Findings: data-quality problems with a stable code, a severity and evidence.

Bad data produces findings, never exceptions. A finding is attached to a
*subject*: an entity reference (``component:default/api``), a scope
(``scope:catalog/main``) or a file locator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

JSONValue = Any  # JSON-compatible value: str, int, float, bool, None, list, dict


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "info": 1}[self.value]


class Code(StrEnum):
    """The stable finding codes of SPEC section 7."""

    INVALID_ENTITY = "invalid-entity"
    INVALID_FILE = "invalid-file"
    DANGLING_REF = "dangling-ref"
    MISSING_OWNER = "missing-owner"
    MISSING_FIELD = "missing-field"
    CONFLICT = "conflict"
    STALE = "stale"
    DRIFT = "drift"
    UNDECLARED = "undeclared"
    REMOVAL_HELD = "removal-held"
    SOURCE_FAILED = "source-failed"
    UNSUPPORTED_KIND = "unsupported-kind"  # a Backstage kind outside ``backstage.kinds``
    # Beyond SPEC section 7's list: a source reaches its data insecurely (SPEC section 10).
    INSECURE_CONNECTION = "insecure-connection"


DEFAULT_SEVERITY: Mapping[Code, Severity] = MappingProxyType(
    {
        Code.INVALID_ENTITY: Severity.ERROR,
        Code.INVALID_FILE: Severity.ERROR,
        Code.DANGLING_REF: Severity.WARNING,
        Code.MISSING_OWNER: Severity.ERROR,
        Code.MISSING_FIELD: Severity.WARNING,
        Code.CONFLICT: Severity.WARNING,
        Code.STALE: Severity.WARNING,
        Code.DRIFT: Severity.WARNING,
        Code.UNDECLARED: Severity.WARNING,
        Code.REMOVAL_HELD: Severity.ERROR,
        Code.SOURCE_FAILED: Severity.ERROR,
        Code.UNSUPPORTED_KIND: Severity.WARNING,
        Code.INSECURE_CONNECTION: Severity.WARNING,
    }
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem. ``subject`` says what it is about; ``evidence`` says why."""

    code: str
    severity: Severity
    subject: str
    message: str
    evidence: Mapping[str, JSONValue] = field(default_factory=dict)

    def key(self) -> tuple[str, str, str]:
        """Identity used to sort and to tell whether findings changed."""
        return (self.subject, self.code, self.message)

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "subject": self.subject,
            "message": self.message,
            "evidence": dict(self.evidence),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JSONValue]) -> Finding:
        return cls(
            code=str(data["code"]),
            severity=Severity(data["severity"]),
            subject=str(data["subject"]),
            message=str(data["message"]),
            evidence=dict(data.get("evidence") or {}),
        )


def finding(
    code: Code,
    subject: str,
    message: str,
    *,
    severity: Severity | None = None,
    **evidence: JSONValue,
) -> Finding:
    """Build a finding with the code's default severity unless one is given."""
    return Finding(
        code=code.value,
        severity=severity or DEFAULT_SEVERITY[code],
        subject=subject,
        message=message,
        evidence=evidence,
    )
