"""When a source is next due: its interval, jitter, and back-off after failures.

Pure; called by :mod:`trueup.scheduler.runner` when a periodic sync ends.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta


def next_due(
    started: datetime,
    interval: timedelta,
    *,
    failures: int,
    backoff: timedelta,
    jitter: float,
    uniform: Callable[[float, float], float] = random.uniform,
) -> datetime:
    """``started`` plus the interval (after ``failures`` failed runs in a row: a back-off
    that starts at ``backoff`` and doubles, never past the interval), spread by
    ± ``jitter`` of it so that replicas and sources do not all wake at once."""
    delay = interval
    if failures > 0:
        delay = min(interval, backoff * (2 ** min(failures - 1, 30)))
    spread = delay.total_seconds() * jitter
    return started + delay + timedelta(seconds=uniform(-spread, spread))
