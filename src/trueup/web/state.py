"""What every route reads: the configuration, the store, the job queue, the metrics.

Built once by ``trueup serve`` (or a test) and kept on ``app.state.trueup``;
routes get it through :func:`server_state`. ``queue`` is None in a process that
cannot record jobs (refresh routes then answer 503).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fastapi import Request

from trueup import __version__
from trueup.config import Config
from trueup.metrics import Metrics
from trueup.model.emission import EmissionPolicy
from trueup.pipeline import refresh_freshness, utc_now
from trueup.scheduler.jobs import JobQueue
from trueup.store import Store

RECHECK = timedelta(seconds=1)
_LONG_AGO = datetime.min.replace(tzinfo=UTC)


@dataclass
class ServerState:
    config: Config
    store: Store
    emission: EmissionPolicy
    metrics: Metrics = field(default_factory=Metrics)
    queue: JobQueue | None = None
    body_deadline: float = 10.0  # seconds a webhook body may take to arrive
    _fresh: threading.Lock = field(default_factory=threading.Lock)
    _fresh_until: datetime = field(default_factory=lambda: _LONG_AGO)
    _checked_at: datetime = field(default_factory=lambda: _LONG_AGO)

    def ensure_fresh(self) -> None:
        """Status shown past its ``max_age`` becomes Unknown before anything is served.

        The moment the first shown status expires (the last committed run's
        ``fresh_until``) is kept for at most :data:`RECHECK` seconds, so a read
        costs no query while nothing can have expired; when it has, one request
        re-assembles (:func:`trueup.pipeline.refresh_freshness`) and the others
        wait for it.
        """
        now = utc_now()
        if now < self._fresh_until and now < self._checked_at + RECHECK:
            return
        with self._fresh:
            if now < self._fresh_until and now < self._checked_at + RECHECK:
                return  # another request checked meanwhile
            refresh_freshness(self.config, self.store)
            self._fresh_until = fresh_until(self.store)
            self._checked_at = utc_now()

    def feed_fingerprint(self) -> str:
        """What besides the store generation decides the feed's bytes: the policy, the URLs."""
        parts = (
            __version__,
            self.config.backstage.model_dump_json(),
            self.config.public_url or "",
            self.config.server.listen,
        )
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def fresh_until(store: Store) -> datetime:
    """When the first status shown as fresh expires, per the last committed run."""
    last = store.last_commit()
    moment = last.summary.get("fresh_until") if last is not None else None
    if isinstance(moment, str):
        return datetime.fromisoformat(moment)
    return datetime.max.replace(tzinfo=UTC)


def server_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.trueup
    return state
