"""Removal needs proof (truth rule 4): hold suspicious removals.

Called before a new snapshot replaces the stored one: by the pipeline's
from-scratch path (:func:`guard_removals`, on whole snapshots) and by the
store's incremental commit (:func:`decide_removals`, on the refs a read
removes, counted in the database). A read that would remove more than
``max_removal_ratio`` of a scope's entities, or that returns nothing where
there was something, is held: the held entities' previous observations are
carried into the new snapshot and a ``removal-held`` finding says why, until
the removals are accepted (``trueup sync --accept-removals SOURCE_OR_SCOPE``
or config). The share is one of the scope's entities: ``Location`` entities are
followed by the source and never served, so they neither count nor, alone, make
a read empty (a file source whose catalog is mostly Locations would otherwise
hide a mass removal of its entities, or hold a read that only moved them); a
held read still holds the Locations it lost, as nothing is removed while held.
A hold is kept, not decided again: a ref held by an earlier read
that the new read still lacks stays held whatever share it now is (the held
rows themselves count in the scope, so the share of a repeated read can fall
under the ratio without any proof having come).
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, replace

from trueup.model.emission import LOCATION
from trueup.model.finding import Code, Finding, finding
from trueup.model.observation import Snapshot, held_parts
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
    previous: Snapshot | None,
    new: Snapshot,
    *,
    max_ratio: float,
    accepted: bool,
    held_before: Set[EntityRef] = frozenset(),
) -> GuardOutcome:
    """Decide whether the removals in ``new`` may take effect.

    ``held_before`` are the scope's refs whose removal an earlier read had held.
    """
    if previous is None or accepted:
        return GuardOutcome(new, frozenset(), None)
    before = previous.refs
    decision = decide_removals(
        new.source,
        new.scope,
        before=sum(1 for ref in before if is_counted(ref)),
        removed=before - new.refs,
        empty=not any(is_counted(o.ref) for o in new.observations),
        max_ratio=max_ratio,
        held_before=held_before,
    )
    if decision is None:
        return GuardOutcome(new, frozenset(), None)
    held, reason = decision
    carried = tuple(o for o in previous.observations if o.ref in held)
    merged = replace(
        new,
        observations=(*new.observations, *carried),
        parts={**new.parts, **held_parts((o.part for o in carried), new.parts)},
    )
    return GuardOutcome(merged, held, reason)


def decide_removals(
    source: str,
    scope: str,
    *,
    before: int,
    removed: Set[EntityRef],
    empty: bool,
    max_ratio: float,
    held_before: Set[EntityRef] = frozenset(),
) -> tuple[frozenset[EntityRef], Finding] | None:
    """The refs to hold and the finding that says why, or None when the removals may go.

    ``before`` is the number of entities (refs :func:`is_counted`) the stored
    snapshot has, ``removed`` the refs the new read no longer has (Locations
    among them), ``empty`` whether the new read has no entity that counts,
    ``held_before`` the refs whose removal an earlier read held: those of them
    still removed stay held even when the share alone would let them go.
    """
    if not removed:
        return None
    lost = sum(1 for ref in removed if is_counted(ref))
    share = lost / before if before else 0.0
    empty = empty and lost > 0  # nothing where there were only Locations loses nothing
    if not empty and share <= max_ratio:
        removed = removed & held_before
        if not removed:
            return None
        reason = "an earlier read held these removals and they are not accepted yet"
    else:
        reason = (
            "the read returned nothing where there were entities"
            if empty
            else f"the read would remove {lost} of {before} entities "
            f"({share:.0%}, above max_removal_ratio {max_ratio:.0%})"
        )
    sample = sorted(str(ref) for ref in removed)[:10]
    held = finding(
        Code.REMOVAL_HELD,
        scope_subject(source, scope),
        f"removals held in {source}/{scope}: {reason}; release with "
        f"`trueup sync --accept-removals {source}/{scope}`",
        source=source,
        scope=scope,
        held=len(removed),
        before=before,
        sample=sample,
        origin=PIPELINE_ORIGIN,
    )
    return frozenset(removed), held


def is_counted(ref: EntityRef) -> bool:
    """Whether a ref is an entity the removal share counts: any but a followed Location."""
    return ref.kind != LOCATION


def is_accepted(source: str, scope: str, accepted: frozenset[str]) -> bool:
    """A source id releases all its scopes; ``source/scope`` releases one."""
    return source in accepted or f"{source}/{scope}" in accepted
