"""What the engine carries from one commit to the next about scopes, from the stored findings.

The findings the engine itself raised (evidence ``origin: pipeline``): a failed
read of a scope and the removals it held. A later run that does not read the
scope shows them again; a run that reads it keeps the holds that still lack
proof (:func:`held_before`, see :mod:`trueup.assemble.guard`).
"""

from __future__ import annotations

from collections.abc import Iterator

from trueup.assemble.guard import PIPELINE_ORIGIN
from trueup.model.finding import Code, Finding
from trueup.model.ref import EntityRef, parse_ref
from trueup.store.store import Store


def held_before(store: Store) -> dict[tuple[str, str], frozenset[EntityRef]]:
    """The refs whose removal the last commit held, by scope (from its findings)."""
    held: dict[tuple[str, str], set[EntityRef]] = {}
    for f in engine_findings(store):
        if f.code == Code.REMOVAL_HELD and not f.subject.startswith("scope:"):
            key = (f.evidence["source"], f.evidence["scope"])
            held.setdefault(key, set()).add(parse_ref(f.subject))
    return {key: frozenset(refs) for key, refs in held.items()}


def engine_findings(store: Store) -> Iterator[Finding]:
    """The stored failures and holds the engine raised about scopes and their entities."""
    for f in store.findings(codes=(Code.SOURCE_FAILED, Code.REMOVAL_HELD)):
        source, scope = f.evidence.get("source"), f.evidence.get("scope")
        if not isinstance(source, str) or not isinstance(scope, str):
            continue
        if f.evidence.get("origin") == PIPELINE_ORIGIN:  # a source's own lives in its snapshot
            yield f
