"""How long ago something happened, in the words every view uses (``5m ago``)."""

from __future__ import annotations

from datetime import datetime, timedelta


def age(moment: datetime | None, now: datetime) -> str:
    """``42s``, ``5m``, ``3h``, ``2d`` ago; ``-`` when unknown."""
    if moment is None:
        return "-"
    delta = now - moment
    if delta < timedelta(0):
        return "in the future"
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"
