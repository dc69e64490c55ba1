"""The mirror's commit messages: what changed, what caused it, and trailers trueup reads back.

A message lists the added, changed and removed entities (the first
``LISTED`` of each, then a count), each with the source versions behind it:
for git and GitHub the commit (``catalog/catalog@main 1a2b3c4d5e6f``), for a
cluster the list's resourceVersion, for Terraform the state's serial. Held
removals are listed with the reason. The trailers close the message:

- ``Trueup-Read-At:`` when the hydration read its sources;
- ``Trueup-Source:`` one per scope, ``source/scope@version`` in full.

:func:`read_hydration` reads them back, so that a run that lost a push race
can tell whether the mirror already holds a newer hydration than its own.
Pure; called by :mod:`trueup.sinks.git.sink`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from trueup.model.ref import EntityRef
from trueup.sinks.base import ScopeVersion
from trueup.sinks.git.plan import MirrorPlan

LISTED = 50  # entities named per section; the rest are counted
READ_AT = "Trueup-Read-At"
SOURCE = "Trueup-Source"
_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Hydration:
    """What a trueup commit says it was made from."""

    read_at: datetime
    versions: frozenset[str]  # ``source/scope@version``


def commit_message(
    plan: MirrorPlan,
    versions: Sequence[ScopeVersion],
    read_at: datetime,
    causes: Callable[[EntityRef], Sequence[ScopeVersion]],
    removed_causes: Mapping[EntityRef, Sequence[ScopeVersion]],
) -> str:
    """The message of the commit that applies ``plan``."""
    counts = [
        f"{len(plan.added)} added",
        f"{len(plan.changed)} changed",
        f"{len(plan.removed)} removed",
    ]
    if plan.held:
        counts.append(f"{len(plan.held)} removals held")
    lines = [f"trueup: {', '.join(counts)}", ""]
    lines += _section("Added", plan.added, lambda ref: _cause(causes(ref)))
    lines += _section("Changed", plan.changed, lambda ref: _cause(causes(ref)))
    lines += _section(
        "Removed",
        plan.removed,
        lambda ref: "no longer in " + (_cause(removed_causes.get(ref, ())) or "any source"),
    )
    if plan.held:
        lines += [f"Removals held, nothing deleted: {plan.hold_reason}."]
        lines += [
            "Release them with `trueup hydrate --push --accept-removals`.",
            *(f"  {ref}" for ref in plan.held[:LISTED]),
            *_more(len(plan.held)),
            "",
        ]
    lines.append(f"{READ_AT}: {read_at.isoformat()}")
    lines += [f"{SOURCE}: {v}" for v in sorted(versions, key=str) if v.version]
    return "\n".join(lines) + "\n"


def read_hydration(message: str) -> Hydration | None:
    """The trailers of a trueup commit; None for a commit trueup did not make."""
    read_at: datetime | None = None
    versions: set[str] = set()
    for line in message.splitlines():
        key, _, value = line.partition(": ")
        if key == READ_AT:
            try:
                read_at = datetime.fromisoformat(value.strip())
            except ValueError:
                return None
        elif key == SOURCE:
            versions.add(value.strip())
    return None if read_at is None else Hydration(read_at, frozenset(versions))


def _section(title: str, refs: Sequence[EntityRef], cause: Callable[[EntityRef], str]) -> list[str]:
    if not refs:
        return []
    lines = [f"{title} ({len(refs)}):"]
    for ref in refs[:LISTED]:
        why = cause(ref)
        lines.append(f"  {ref}  {why}" if why else f"  {ref}")
    return [*lines, *_more(len(refs)), ""]


def _more(count: int) -> list[str]:
    return [f"  … and {count - LISTED} more"] if count > LISTED else []


def _cause(versions: Iterable[ScopeVersion]) -> str:
    return ", ".join(f"{v.source}/{v.scope} {_short(v.version)}" for v in versions)


def _short(version: str) -> str:
    return version[:12] if _SHA.match(version) else version
