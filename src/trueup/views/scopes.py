"""The scope view: how one scope of a source is doing, and how old its data is.

``GET /api/v1/sources`` returns :func:`scope_json` for each scope; the dashboard's
Sources page shows the same :func:`scope_state`. A scope read a minute ago may
hold data two days old (an unchanged cluster export): past its source's
``max_age`` every status from it shows as Unknown, so the scope is ``stale``,
never ``ok``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from trueup.assemble.status import is_stale
from trueup.store.records import ScopeHealth

FAILING = "failing"
REMOVALS_HELD = "removals held"
STALE = "stale"
NEVER_READ = "never read"
OK = "ok"


def data_stale(health: ScopeHealth, max_age: timedelta | None, now: datetime) -> bool:
    """The scope's data is older than ``max_age`` (or dated further ahead), as its status
    is judged on the entity pages (:func:`trueup.assemble.status.is_stale`)."""
    return health.data_at is not None and is_stale(health.data_at, max_age, now)


def scope_state(health: ScopeHealth, max_age: timedelta | None, now: datetime) -> str:
    """``failing``, ``removals held``, ``stale``, ``never read`` or ``ok``: the first that holds.

    A failing read or held removals need someone to act, and the page says why next
    to them; stale data with neither waits for the source to report newer data.
    """
    if health.failing:
        return FAILING
    if health.held_removals:
        return REMOVALS_HELD
    if data_stale(health, max_age, now):
        return STALE
    if health.last_success_at is None:
        return NEVER_READ
    return OK


def _seconds(since: datetime | None, now: datetime) -> float | None:
    return (now - since).total_seconds() if since is not None else None


def scope_json(health: ScopeHealth, max_age: timedelta | None, now: datetime) -> dict[str, Any]:
    """One scope's health. ``age_seconds`` is since the scope was last read; ``data_age_seconds``
    since the newest data it holds was observed (negative when dated ahead)."""
    return {
        "scope": health.scope,
        "nature": health.nature.value if health.nature else None,
        "state": scope_state(health, max_age, now),
        "last_success_at": health.last_success_at,
        "last_failure_at": health.last_failure_at,
        "last_error": health.last_error,
        "failure_kind": health.failure_kind.value if health.failure_kind else None,
        "failing": health.failing,
        "item_count": health.item_count,
        "version": health.version,
        "held_removals": health.held_removals,
        "read_at": health.read_at,
        "age_seconds": _seconds(health.read_at, now),
        "data_at": health.data_at,
        "data_age_seconds": _seconds(health.data_at, now),
        "stale": data_stale(health, max_age, now),
    }
