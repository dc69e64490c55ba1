"""Quality checks: one small protocol, each check a plugin with its own settings.

A check looks at one drafted entity (merged, before trueup's own annotations)
with a read-only view of the whole catalog and returns findings. The assembler
runs them; findings that are facts of the merge itself (``conflict``,
``invalid-entity``, ``removal-held``, ``source-failed``) are raised where those
facts are known and share the same codes.

The built-in checks are registered in trueup's ``pyproject.toml`` under the
``trueup.checks`` entry points, as an outside package registers its own; the
pipeline builds the configured ones through :mod:`trueup.plugins`.
``BUILTIN_CHECKS`` are the same checks with their default settings, for using
the assembler without a configuration (tests, tools).
"""

from __future__ import annotations

from trueup.checks.base import Check, CheckContext, CheckPlugin, Draft, apply_severity
from trueup.checks.completeness import CompletenessCheck
from trueup.checks.drift import DriftCheck, StaleCheck
from trueup.checks.relations import RelationsCheck

BUILTIN_CHECKS: tuple[Check, ...] = (
    RelationsCheck(),
    CompletenessCheck(),
    DriftCheck(),
    StaleCheck(),
)

__all__ = ["BUILTIN_CHECKS", "Check", "CheckContext", "CheckPlugin", "Draft", "apply_severity"]
