"""What every route reads: the configuration, the store, the job queue, the metrics.

Built once by ``trueup serve`` (or a test) and kept on ``app.state.trueup``;
routes get it through :func:`server_state`. ``queue`` is None in a process that
cannot record jobs (refresh routes then answer 503).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

from fastapi import Request

from trueup import __version__
from trueup.config import Config
from trueup.metrics import Metrics
from trueup.model.emission import EmissionPolicy
from trueup.pipeline import refresh_freshness
from trueup.scheduler.jobs import JobQueue
from trueup.store import Store


@dataclass
class ServerState:
    config: Config
    store: Store
    emission: EmissionPolicy
    metrics: Metrics = field(default_factory=Metrics)
    queue: JobQueue | None = None
    body_deadline: float = 10.0  # seconds a webhook body may take to arrive
    _fresh: threading.Lock = field(default_factory=threading.Lock)

    def ensure_fresh(self) -> None:
        """Status shown past its ``max_age`` becomes Unknown before anything is served.

        One re-assembly at a time in this process; the others wait for it and
        then find nothing expired.
        """
        with self._fresh:
            refresh_freshness(self.config, self.store)

    def feed_fingerprint(self) -> str:
        """What besides the store generation decides the feed's bytes: the policy, the URLs."""
        parts = (
            __version__,
            self.config.backstage.model_dump_json(),
            self.config.public_url or "",
            self.config.server.listen,
        )
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def server_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.trueup
    return state
