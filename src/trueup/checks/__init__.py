"""Quality checks: one small protocol, built-ins listed in ``BUILTIN_CHECKS``.

A check looks at one drafted entity (merged, before trueup's own annotations)
with a read-only view of the whole catalog and returns findings. The assembler
runs them; findings that are facts of the merge itself (``conflict``,
``invalid-entity``, ``removal-held``, ``source-failed``) are raised where those
facts are known and share the same codes.
"""

from __future__ import annotations

from trueup.checks.base import Check, CheckContext, Draft, apply_severity
from trueup.checks.completeness import CompletenessCheck
from trueup.checks.drift import DriftCheck, StaleCheck
from trueup.checks.relations import RelationsCheck

BUILTIN_CHECKS: tuple[Check, ...] = (
    RelationsCheck(),
    CompletenessCheck(),
    DriftCheck(),
    StaleCheck(),
)

__all__ = ["BUILTIN_CHECKS", "Check", "CheckContext", "Draft", "apply_severity"]
