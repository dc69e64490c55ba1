"""Why a revision was written: the source versions that changed one entity.

:func:`revision_cause` compares an entity's previous assembled state with its
new one and names the locators behind what changed: for git and GitHub the
commit and the file (``catalog@1a2b3c4d5e6f:teams/a.yaml#0``), for clusters the
object and its resourceVersion (``prod-eu/shop/Deployment/payments@123``), for
Terraform the state's lineage and serial. A field that changed is credited to
the declaration or observation that now provides it (or provided it, when it
went away); a status value to the object that reported it (or last reported it). When nothing of the
entity's own inputs changed (only its findings, because another entity
changed), it says so.

Called by the store when it writes a revision; pure, and independent of how the
sync engine decides which entities to re-assemble.
"""

from __future__ import annotations

from collections.abc import Iterable

from trueup.model.assembled import VOLATILE_ANNOTATION, AssembledEntity, Candidate, PlaceStatus

_SHOWN = 4  # locators named in a cause; the rest are counted
_VOLATILE_FIELD = f"metadata.annotations.{VOLATILE_ANNOTATION}"


def revision_cause(old: AssembledEntity | None, new: AssembledEntity | None) -> str:
    """A short sentence naming the source versions that made ``old`` into ``new``."""
    if new is None:
        if old is None:
            return ""
        return "no source reports it any more (last: " + _listed(_all_locators(old)) + ")"
    if old is None:
        return "first seen in " + _listed(_all_locators(new))
    changed: dict[str, list[str]] = {}
    for path in sorted(set(old.origins) | set(new.origins)):
        if path == _VOLATILE_FIELD:
            continue
        before, after = old.origins.get(path), new.origins.get(path)
        if before is not None and after is not None and before.winner.value == after.winner.value:
            continue
        origin = after or before
        if origin is not None:
            for locator in _field_locators(origin.winner.provenance.locator, origin.winner):
                changed.setdefault(locator, []).append(path)
    old_places = {_place_identity(p): p for p in old.places}
    for place in new.places:
        seen = old_places.pop(_place_identity(place), None)
        if seen is None or (seen.value, seen.last_known) != (place.value, place.last_known):
            changed.setdefault(place.provenance.locator, []).append(f"status {place.key}")
    for place in old_places.values():  # a place that no longer reports
        changed.setdefault(place.provenance.locator, []).append(f"status {place.key}")
    if not changed:
        return "none of its sources changed (its findings did)"
    parts = [f"{locator} ({_fields(paths)})" for locator, paths in sorted(changed.items())]
    more = f" and {len(parts) - _SHOWN} more" if len(parts) > _SHOWN else ""
    return "changed by " + "; ".join(parts[:_SHOWN]) + more


def _place_identity(place: PlaceStatus) -> tuple[str, str, str, str, str]:
    """One status value of one object: several objects may report at one place (two
    Deployments in a namespace); the object is its locator without the version read."""
    seen = place.provenance
    head, at, _ = seen.locator.rpartition("@")
    return (place.key, place.place, seen.source, seen.scope, head if at else seen.locator)


def _field_locators(locator: str, candidate: Candidate) -> list[str]:
    """The declaration, plus the files a placeholder read the value from."""
    return [locator, *candidate.references]


def _all_locators(entity: AssembledEntity) -> list[str]:
    winners = [origin.winner for origin in entity.origins.values()]
    found = {winner.provenance.locator for winner in winners}
    found.update(locator for winner in winners for locator in winner.references)
    found.update(place.provenance.locator for place in entity.places)
    return sorted(found)


def _listed(locators: Iterable[str]) -> str:
    items = list(locators)
    more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more or "nothing"


def _fields(paths: list[str]) -> str:
    shown = ", ".join(paths[:3])
    return shown + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
