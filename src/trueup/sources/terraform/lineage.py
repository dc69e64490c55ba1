"""Whether a state read may replace the one read before at the same place.

Called by :class:`~trueup.sources.terraform.source.TerraformSource` for every
state it parsed, against the version of the scope's previous snapshot. The
rules are Terraform's own (``statemgr.CheckValidImport``):

===================================  =============================================
relationship to the previous read    verdict
===================================  =============================================
none read before (or no version)     accepted
same lineage, higher serial          accepted
same lineage and serial, same state  accepted (unchanged)
same lineage, lower serial           refused as stale: a rollback
same serial, different content       refused: a conflict
different lineage                    accepted as a new, unrelated state (noted)
===================================  =============================================

A snapshot's version is written as ``<lineage>/<serial>#<digest>`` (the digest
tells two states with one serial apart); :meth:`StateVersion.parse` reads it
back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_VERSION = re.compile(r"^(?P<lineage>.+)/(?P<serial>\d+)(?:#(?P<digest>[0-9a-f]+))?$")
DIGEST_LENGTH = 16


@dataclass(frozen=True, slots=True)
class StateVersion:
    """Which state, which write of it, and what it held."""

    lineage: str
    serial: int
    digest: str = ""  # a prefix of the sha256 of the state's canonical JSON

    def __str__(self) -> str:
        text = f"{self.lineage}/{self.serial}"
        return f"{text}#{self.digest[:DIGEST_LENGTH]}" if self.digest else text

    @classmethod
    def parse(cls, text: str) -> StateVersion | None:
        """Read a snapshot's version back; None when it is not one of ours."""
        match = _VERSION.match(text)
        if not match:
            return None
        return cls(match["lineage"], int(match["serial"]), match["digest"] or "")


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    NEW_LINEAGE = "new-lineage"
    STALE = "stale"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class Succession:
    verdict: Verdict
    message: str = ""

    @property
    def accepted(self) -> bool:
        return self.verdict in (Verdict.ACCEPTED, Verdict.NEW_LINEAGE)


def succession(previous: StateVersion | None, new: StateVersion) -> Succession:
    """The verdict on ``new`` replacing ``previous`` (see the table above)."""
    if previous is None:
        return Succession(Verdict.ACCEPTED)
    if previous.lineage != new.lineage:
        return Succession(
            Verdict.NEW_LINEAGE,
            f"the state has a new lineage {new.lineage} (serial {new.serial}); it was "
            f"{previous.lineage} (serial {previous.serial}): read as a new, unrelated state "
            "that replaces the old one",
        )
    if new.serial < previous.serial:
        return Succession(
            Verdict.STALE,
            f"rolled back: serial {new.serial} < {previous.serial} of lineage {new.lineage}; "
            f"refused as stale, the state with serial {previous.serial} stays",
        )
    if new.serial == previous.serial and _differ(previous.digest, new.digest):
        return Succession(
            Verdict.CONFLICT,
            f"conflict: serial {new.serial} of lineage {new.lineage} was read before with "
            "different content (Terraform never writes two states with one serial); "
            "the state read first stays",
        )
    return Succession(Verdict.ACCEPTED)


def _differ(before: str, after: str) -> bool:
    """Digests differ; an unknown digest (an older version string) differs from nothing."""
    if not before or not after:
        return False
    length = min(len(before), len(after))
    return before[:length] != after[:length]
