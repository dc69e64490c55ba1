"""Helpers shared by the tests of every kind of source.

- :func:`synced`: one sync through the real pipeline at a time the test moves,
  required to commit with no failed read and no removal held.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trueup.config import Config
from trueup.pipeline import SyncOutcome, sync
from trueup.store import Store

NOW = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


def synced(config: Config, store: Store, minutes: int) -> SyncOutcome:
    """One sync ``minutes`` after :data:`NOW`: committed, no read failed, no removal held."""
    outcome = sync(config, store, now=lambda: NOW + timedelta(minutes=minutes))
    assert outcome.exit_code == 0 and not outcome.failures and not outcome.held
    return outcome
