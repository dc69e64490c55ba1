"""Holding a cluster under a long-lived watch, and syncing it on every change.

A :class:`ClusterHold` is one watched scope (one kubeconfig context of a live
``kubernetes`` source: the watch its source config's ``watch()`` builds) held
by this process: the watch keeps the latest complete read, and a thread of its
own runs a sync of that one scope after each change (changes that arrive during
a sync are folded into the next one). Only the holder ever syncs that scope.
With PostgreSQL the hold is a long-running procrastinate job (so exactly one
replica holds each cluster, and a dead replica's clusters are taken over); with
SQLite the process holds them all.
"""

from __future__ import annotations

import logging
import threading

from trueup.config_model import SourceConfig
from trueup.model.observation import ScopeRead
from trueup.scheduler.jobs import SyncJob
from trueup.scheduler.runner import JobRunner

log = logging.getLogger(__name__)

WATCH = "watch"  # the trigger of a sync after a watch event


class ClusterHold:
    """One watched cluster and the thread that syncs it after changes."""

    def __init__(
        self,
        runner: JobRunner,
        source: SourceConfig,
        context: str,
    ) -> None:
        self.runner = runner
        self.source_id = source.id
        self.context = context
        self.watch = source.watch(context)
        self._changed = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._sync_loop, name=f"sync {source.id}/{context}", daemon=True
        )

    @property
    def key(self) -> str:
        return f"{self.source_id}/{self.context}"

    def start(self) -> None:
        self.runner.hold(self.source_id, self.context, self.watch)
        self._thread.start()
        self.watch.start(on_change=self._on_change)

    def stop(self) -> None:
        """Stop watching; a sync under way finishes first (joined)."""
        self._stop.set()
        self._changed.set()
        self.watch.stop()
        self._thread.join(timeout=self.runner.server.shutdown_timeout.total_seconds())
        self.runner.release(self.source_id, self.context)

    def _on_change(self, scope: str, read: ScopeRead) -> None:
        self._changed.set()

    def _sync_loop(self) -> None:
        while True:
            self._changed.wait()
            if self._stop.is_set():
                return
            self._changed.clear()
            try:
                self.runner.run(SyncJob(self.source_id, self.context, trigger=WATCH))
            except Exception:  # the store is down: the next change (or relist) tries again
                log.exception("sync of watched cluster %s failed", self.key)
