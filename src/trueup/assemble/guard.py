"""Removal needs proof (truth rule 4): hold suspicious removals.

Called by the pipeline before a new snapshot replaces the stored one. A read
that would remove more than ``max_removal_ratio`` of a scope's entities, or
that returns nothing where there was something, is held: the held entities'
previous observations are carried into the new snapshot and a
``removal-held`` finding says why, until the removals are accepted
(``trueup sync --accept-removals SOURCE_OR_SCOPE`` or config).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from trueup.model.finding import Code, Finding, finding
from trueup.model.observation import Snapshot
from trueup.model.ref import EntityRef


@dataclass(frozen=True, slots=True)
class GuardOutcome:
    snapshot: Snapshot  # what is stored: the new read plus any held observations
    held: frozenset[EntityRef]
    finding: Finding | None


# Evidence ``origin`` of the findings the engine itself raises about scopes (a
# failed read, held removals): the pipeline carries those over to later runs that
# do not read the scope; a source's own findings live in its stored snapshot.
PIPELINE_ORIGIN = "pipeline"


def scope_subject(source: str, scope: str) -> str:
    return f"scope:{source}/{scope}"


def guard_removals(
    previous: Snapshot | None, new: Snapshot, *, max_ratio: float, accepted: bool
) -> GuardOutcome:
    """Decide whether the removals in ``new`` may take effect."""
    if previous is None or accepted:
        return GuardOutcome(new, frozenset(), None)
    before = previous.refs
    removed = before - new.refs
    if not removed:
        return GuardOutcome(new, frozenset(), None)
    share = len(removed) / len(before)
    empty = not new.observations
    if not empty and share <= max_ratio:
        return GuardOutcome(new, frozenset(), None)
    carried = tuple(o for o in previous.observations if o.ref in removed)
    reason = (
        "the read returned nothing where there were entities"
        if empty
        else f"the read would remove {len(removed)} of {len(before)} entities "
        f"({share:.0%}, above max_removal_ratio {max_ratio:.0%})"
    )
    sample = sorted(str(ref) for ref in removed)[:10]
    held = finding(
        Code.REMOVAL_HELD,
        scope_subject(new.source, new.scope),
        f"removals held in {new.source}/{new.scope}: {reason}; release with "
        f"`trueup sync --accept-removals {new.source}/{new.scope}`",
        source=new.source,
        scope=new.scope,
        held=len(removed),
        before=len(before),
        sample=sample,
        origin=PIPELINE_ORIGIN,
    )
    merged = replace(new, observations=new.observations + carried)
    return GuardOutcome(merged, frozenset(removed), held)


def is_accepted(source: str, scope: str, accepted: frozenset[str]) -> bool:
    """A source id releases all its scopes; ``source/scope`` releases one."""
    return source in accepted or f"{source}/{scope}" in accepted
