"""The ``kubernetes`` source kept current by watches: what ``trueup serve`` runs.

:class:`KubernetesWatchSource` starts one :class:`~trueup.sources.kubernetes.watch.ClusterWatcher`
per kubeconfig context (each on its own thread) and remembers the latest read
of every scope. It is a :class:`~trueup.sources.base.Source` too: ``observe``
yields each scope's latest complete Snapshot (or its latest ScopeFailure, or
"not synced yet"), so the pipeline can run on it unchanged. The server drives it::

    source = KubernetesWatchSource(config)
    source.start(on_change=lambda scope, read: schedule_sync(config.id, scope),
                 previous=stored_snapshots_of(config.id))
    ...                       # each on_change: run the pipeline for that scope
    source.stop()             # on shutdown: closes every watch and client

``on_change`` is called from the watcher's thread after the new read is
stored here; it should hand work off quickly (the watcher batches the events
that arrive meanwhile into the next snapshot).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime

from trueup.errors import KubeAuthError
from trueup.model.observation import FailureKind, Nature, ScopeFailure, ScopeRead, Snapshot
from trueup.sources.base import ReadContext
from trueup.sources.kubernetes.config import KubernetesSourceConfig
from trueup.sources.kubernetes.kubeconfig import ContextProblem
from trueup.sources.kubernetes.live import KubernetesLiveSource, TransportFactory, scope_failure
from trueup.sources.kubernetes.transport import ApiTransport
from trueup.sources.kubernetes.watch import ClusterWatcher, OnChange, Wait, WatchSettings, utc_now


def _wait(event: threading.Event, seconds: float) -> None:
    event.wait(seconds)


class KubernetesWatchSource:
    """Watches every configured cluster; ``observe`` returns their latest reads."""

    nature = Nature.ACTUAL

    def __init__(
        self,
        config: KubernetesSourceConfig,
        *,
        transport_for: TransportFactory | None = None,
        settings: WatchSettings | None = None,
        now: Callable[[], datetime] = utc_now,
        wait: Wait = _wait,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.reader = KubernetesLiveSource(config, transport_for=transport_for)
        self.settings = settings or WatchSettings.of(config)
        self.now = now
        self.wait = wait
        self.rng = rng
        self.watchers: dict[str, ClusterWatcher] = {}
        self._latest: dict[str, ScopeRead] = {}
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._transports: list[ApiTransport] = []

    @property
    def id(self) -> str:
        return self.reader.id

    def start(
        self, on_change: OnChange | None = None, previous: Mapping[str, Snapshot] | None = None
    ) -> None:
        """Start one watcher thread per context (a context that cannot be used fails at once)."""
        previous = previous or {}

        def record(scope: str, read: ScopeRead) -> None:
            with self._lock:
                self._latest[scope] = read
                self._lock.notify_all()
            if on_change is not None:
                on_change(scope, read)

        for target in self.reader.identities():
            if isinstance(target, ContextProblem):
                record(
                    target.context,
                    ScopeFailure(
                        self.id, target.context, FailureKind.INVALID, target.message, self.now()
                    ),
                )
                continue
            try:
                transport = self.reader.transport_for(self.reader.kubeconfig, target)
            except KubeAuthError as exc:
                record(target.context, scope_failure(self.id, target.context, exc, self.now()))
                continue
            self._transports.append(transport)
            pager = self.reader.pager(transport)
            pager.sleep = lambda seconds: self.wait(self._stop, seconds)
            watcher = ClusterWatcher(
                source=self.id,
                identity=target,
                transport=transport,
                pager=pager,
                discover=self.reader.discoverer(transport, pager).discover,
                settings=self.settings,
                previous=previous.get(target.context),
                now=self.now,
                wait=self.wait,
                rng=self.rng,
            )
            self.watchers[target.context] = watcher
            thread = threading.Thread(
                target=watcher.run, args=(record, self._stop), name=f"kubernetes {target.context}"
            )
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        """Stop every watcher and close its client (joins the threads)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        for transport in self._transports:
            transport.close()
        self._threads, self._transports = [], []

    def latest(self) -> dict[str, ScopeRead]:
        with self._lock:
            return dict(self._latest)

    def wait_for(self, predicate: Callable[[dict[str, ScopeRead]], bool], timeout: float) -> bool:
        """Block until ``predicate(latest)`` holds, at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(dict(self._latest)):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True

    def observe(self, context: ReadContext) -> Iterator[ScopeRead]:
        """The latest read of each scope; a scope not synced yet is a failure (nothing replaced)."""
        latest = self.latest()
        for target in self.reader.identities():
            if context.scopes is not None and target.context not in context.scopes:
                continue
            read = latest.get(target.context)
            if read is None:
                yield ScopeFailure(
                    self.id,
                    target.context,
                    FailureKind.UNREACHABLE,
                    "the watch has no complete list of this cluster yet",
                    context.now(),
                )
            else:
                yield read
