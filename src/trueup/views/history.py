"""The history view: an entity's revisions, each with what changed and why.

``trueup history --format json`` prints :func:`history_view`; the API serves it
at ``GET /api/v1/entities/{kind}/{namespace}/{name}/revisions`` and the diff of
any two revisions through :func:`diff`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trueup.model.assembled import VOLATILE_ANNOTATION, AssembledEntity
from trueup.model.fields import flatten
from trueup.model.ref import EntityRef
from trueup.store.records import Revision


def diff(old: AssembledEntity | None, new: AssembledEntity | None) -> dict[str, Any]:
    """Field paths added, removed and changed from ``old`` to ``new``, and findings."""

    def fields(e: AssembledEntity | None) -> dict[str, Any]:
        if e is None:
            return {}
        flat = flatten(e.entity)
        flat.pop(f"metadata.annotations.{VOLATILE_ANNOTATION}", None)
        return flat

    before, after = fields(old), fields(new)
    return {
        "added": {k: after[k] for k in sorted(after.keys() - before.keys())},
        "removed": {k: before[k] for k in sorted(before.keys() - after.keys())},
        "changed": {
            k: {"from": before[k], "to": after[k]}
            for k in sorted(before.keys() & after.keys())
            if before[k] != after[k]
        },
        "findings_added": sorted(
            {f.message for f in (new.findings if new else ())}
            - {f.message for f in (old.findings if old else ())}
        ),
        "findings_resolved": sorted(
            {f.message for f in (old.findings if old else ())}
            - {f.message for f in (new.findings if new else ())}
        ),
    }


def revision_entries(revisions: Sequence[Revision]) -> list[dict[str, Any]]:
    """One entry per revision, oldest first, each diffed against the one before."""
    entries: list[dict[str, Any]] = []
    previous: AssembledEntity | None = None
    for rev in revisions:
        entries.append(
            {
                "revision": rev.number,
                "at": rev.at.isoformat(),
                "change": str(rev.change),
                "cause": rev.cause,
                "diff": diff(previous, rev.assembled),
            }
        )
        previous = rev.assembled
    return entries


def history_view(ref: EntityRef, revisions: Sequence[Revision]) -> dict[str, Any]:
    """The whole history shape (docs/cli-json.md)."""
    return {"ref": str(ref), "revisions": revision_entries(revisions)}
