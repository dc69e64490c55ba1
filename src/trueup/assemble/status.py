"""Status per place, freshness and worst-of (truth rules 2 and 3).

Each actual observation carries status values seen at one place. A value is
shown as ``Unknown`` when it is missing, unrecognised, or older than its
source's ``max_age`` (or dated further ahead than that); the last known value
stays available. An aggregate over places is the worst of them, and any Unknown
place makes it Unknown: a fresh place never hides one that cannot be seen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from trueup.model.assembled import UNKNOWN, PlaceStatus
from trueup.model.observation import Observation

__all__ = [
    "AGGREGATED",
    "ORDERS",
    "REPLICAS",
    "UNKNOWN",
    "is_stale",
    "normalize",
    "place_statuses",
    "worst",
]

# Worst last. Argo CD health order from SPEC 5.2.
ORDERS: Mapping[str, tuple[str, ...]] = {
    "argocd-health": ("Healthy", "Suspended", "Progressing", "Missing", "Degraded", UNKNOWN),
    "argocd-sync": ("Synced", "OutOfSync", UNKNOWN),
    "crossplane-ready": ("True", "False", UNKNOWN),
    "crossplane-synced": ("True", "False", UNKNOWN),
}
REPLICAS = "replicas"
AGGREGATED = (*ORDERS, REPLICAS)
_REPLICAS = re.compile(r"([0-9]+)/([0-9]+)")  # the whole value: fullmatch


def normalize(key: str, raw: str) -> str:
    """The value to show for one raw status value: unrecognised values are Unknown."""
    if key in ORDERS:
        return raw if raw in ORDERS[key] else UNKNOWN
    if key == REPLICAS:
        return raw if _REPLICAS.fullmatch(raw) else UNKNOWN
    return raw if raw else UNKNOWN


def is_stale(observed_at: datetime, max_age: timedelta | None, now: datetime) -> bool:
    """Older than max_age, or dated further ahead than max_age.

    A time in the future (clock skew, a file with a future modification time) has
    no age that can be told: within max_age of now it is taken for a skew and is
    fresh; further ahead it is stale, not fresh for as long as it is ahead.
    """
    if max_age is None:
        return False
    return abs(now - observed_at) > max_age


def place_statuses(
    observation: Observation, max_age: timedelta | None, now: datetime
) -> list[PlaceStatus]:
    """The status values one actual observation contributes, freshness applied."""
    provenance = observation.provenance
    stale = is_stale(provenance.observed_at, max_age, now)
    place = observation.place or provenance.scope
    # key, place, value, last_known, stale, provenance: by position, for a large sync
    # builds hundreds of thousands of them (keyword arguments cost a fifth more).
    return [
        PlaceStatus(key, place, UNKNOWN if stale else normalize(key, raw), raw, stale, provenance)
        for key, raw in sorted(observation.status.items())
    ]


def worst(key: str, places: Iterable[PlaceStatus]) -> str | None:
    """The aggregate of one status key over places; None when no place reports it."""
    values = [p.value for p in places if p.key == key]
    if not values:
        return None
    if UNKNOWN in values:
        return UNKNOWN
    if key == REPLICAS:
        return min(values, key=_replica_ratio)
    order = ORDERS[key]
    return max(values, key=order.index)


def _replica_ratio(value: str) -> tuple[float, int]:
    match = _REPLICAS.fullmatch(value)
    if not match:
        return (-1.0, 0)
    ready, desired = int(match.group(1)), int(match.group(2))
    return (ready / desired if desired else 1.0, -desired)
