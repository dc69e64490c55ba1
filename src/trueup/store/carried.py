"""What the engine carries from one commit to the next about scopes, from the stored findings.

The findings the engine itself raised (evidence ``origin: pipeline``): a failed
read of a scope and the removals it held. A later run that does not read the
scope shows them again; a run that reads it keeps the holds that still lack
proof (:func:`carried`, see :mod:`trueup.assemble.guard`).
"""

from __future__ import annotations

from dataclasses import dataclass

from trueup.assemble.guard import PIPELINE_ORIGIN
from trueup.model.finding import Code, Finding
from trueup.model.ref import EntityRef, parse_ref
from trueup.store.store import Store


@dataclass(frozen=True)
class Carried:
    """The engine's stored findings about scopes, read once per commit attempt."""

    scope_findings: list[Finding]  # failures and holds, about scopes
    held: dict[tuple[str, str], frozenset[EntityRef]]  # the refs the last commit held


def carried(store: Store) -> Carried:
    """What the last commit left about scopes: its scope findings and its held refs."""
    scope_findings: list[Finding] = []
    held: dict[tuple[str, str], set[EntityRef]] = {}
    for f in store.findings(codes=(Code.SOURCE_FAILED, Code.REMOVAL_HELD)):
        source, scope = f.evidence.get("source"), f.evidence.get("scope")
        if not isinstance(source, str) or not isinstance(scope, str):
            continue
        if f.evidence.get("origin") != PIPELINE_ORIGIN:
            continue  # a source's own finding lives in its stored snapshot
        if f.subject.startswith("scope:"):
            scope_findings.append(f)
        elif f.code == Code.REMOVAL_HELD:
            held.setdefault((source, scope), set()).add(parse_ref(f.subject))
    return Carried(scope_findings, {key: frozenset(refs) for key, refs in held.items()})
