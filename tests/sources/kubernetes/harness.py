"""Shared test plumbing: build the live/watch sources on the fake clusters, run the pipeline.

- :func:`live_source`, :func:`read_all`: one read of the live source, as a sync does.
- :func:`watch_source`, :func:`watching`: the long-running watch source with its
  waits handed in (:func:`real_wait`, :func:`short_wait`) and no jitter;
  :func:`eventually` polls what a watcher does not notify about.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import migrated
from tests.sources.kubernetes.conftest import Clusters
from trueup import pipeline
from trueup.config import Config
from trueup.model.finding import Finding
from trueup.model.observation import ScopeRead, Snapshot
from trueup.model.ref import EntityRef
from trueup.sources.base import ReadContext, Source
from trueup.sources.kubernetes.config import KubernetesSourceConfig
from trueup.sources.kubernetes.live import KubernetesLiveSource
from trueup.sources.kubernetes.watch import WatchSettings
from trueup.sources.kubernetes.watch_source import KubernetesWatchSource
from trueup.store import Store

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def k8s_config(clusters: Clusters, *contexts: str, **extra: Any) -> KubernetesSourceConfig:
    settings: dict[str, Any] = {
        "page_size": 2,
        "connect_timeout": "2s",
        "request_timeout": "5s",
    }
    settings.update(extra)
    return KubernetesSourceConfig(
        id="k8s",
        type="kubernetes",
        kubeconfig=str(clusters.kubeconfig),
        contexts=list(contexts),
        **settings,
    )


def live_source(
    clusters: Clusters, *contexts: str, sleeps: list[float] | None = None, **extra: Any
) -> KubernetesLiveSource:
    recorded = sleeps if sleeps is not None else []
    return KubernetesLiveSource(k8s_config(clusters, *contexts, **extra), sleep=recorded.append)


def read_all(
    source: KubernetesLiveSource,
    previous: dict[str, Snapshot] | None = None,
    now: datetime = NOW,
) -> dict[str, ScopeRead]:
    context = ReadContext(now=lambda: now, previous=previous or {})
    return {read.scope: read for read in source.observe(context)}


def snapshot(read: ScopeRead) -> Snapshot:
    assert isinstance(read, Snapshot), read
    return read


def names(read: ScopeRead, kind: str | None = None) -> list[str]:
    """``Kind/name`` of every observation, from its locator, sorted."""
    out = []
    for o in snapshot(read).observations:
        _, _, k, rest = o.provenance.locator.rsplit("/", 3)
        if kind is None or k == kind:
            out.append(f"{k}/{rest.split('@')[0]}")
    return sorted(out)


def problems(read: ScopeRead, *, installed: bool = True) -> list[Finding]:
    """The read's findings, without "not installed" ones (Argo CD, Crossplane) unless asked."""
    return [
        f
        for f in snapshot(read).findings
        if not installed or f.evidence.get("kind") != "not-installed"
    ]


def store_at(tmp_path: Path) -> AbstractContextManager[Store]:
    """A migrated Store in ``tmp_path/trueup.db``."""
    return migrated(f"sqlite:///{tmp_path / 'trueup.db'}")


def run_sync(
    monkeypatch: pytest.MonkeyPatch,
    store: Store,
    source: Source,
    config: KubernetesSourceConfig,
    now: datetime = NOW,
) -> pipeline.SyncOutcome:
    """One real pipeline sync (guard, assemble, commit) over ``source``."""
    return pipeline.sync(Config(sources=[config]), store, now=lambda: now, sources=[source])


def annotations_of(store: Store, ref: str) -> dict[str, str]:
    kind, _, rest = ref.partition(":")
    namespace, _, name = rest.partition("/")
    found = store.entity(EntityRef.of(kind, namespace, name))
    assert found is not None and not found.removed, f"{ref} is gone"
    meta = found.assembled.entity["metadata"]
    return dict(meta.get("annotations") or {})


LATER = NOW + timedelta(minutes=5)


PAYMENTS = EntityRef.of("component", None, "payments")


def shown(store: Store, ref: EntityRef = PAYMENTS) -> dict[str, str]:
    """The status of an entity (``component:default/payments``): key -> value, one place each."""
    stored = store.entity(ref)
    assert stored is not None and not stored.removed
    return {p.key: p.value for p in stored.assembled.places}


# --- the watch source ----------------------------------------------------------------

DEPLOYMENTS = r"/apis/apps/v1/deployments$"  # the deployments' list and watch requests
WAIT = 15.0  # seconds a watch test waits at most for what it expects

Wait = Callable[[threading.Event, float], None]


def real_wait(event: threading.Event, seconds: float) -> None:
    """The waiting a watch does outside tests: until ``event`` is set or time is up."""
    event.wait(seconds)


def short_wait(event: threading.Event, seconds: float) -> None:
    event.wait(min(seconds, 0.01))


def watch_source(
    clusters: Clusters, *contexts: str, wait: Wait, **settings: Any
) -> KubernetesWatchSource:
    """A watch source of ``contexts`` collecting workloads; ``settings`` over the defaults."""
    return KubernetesWatchSource(
        k8s_config(clusters, *contexts, collect=["workloads"]),
        settings=WatchSettings(**({"watch_timeout": 60.0, "idle_timeout": 5.0} | settings)),
        wait=wait,
        rng=lambda: 0.0,
    )


@contextmanager
def watching(clusters: Clusters, wait: Wait, **settings: Any) -> Iterator[KubernetesWatchSource]:
    """A watch source of context ``alpha``, started, stopped after."""
    source = watch_source(clusters, "alpha", wait=wait, **settings)
    source.start()
    try:
        yield source
    finally:
        source.stop()


def eventually(check: Callable[[], object], timeout: float = WAIT) -> bool:
    """Poll ``check`` (the server's request log is not something a watcher notifies about)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def waits(source: KubernetesWatchSource, reason: str) -> list[float]:
    """The seconds the watcher of ``alpha`` waited for ``reason``, in order."""
    return [seconds for why, seconds in source.watchers["alpha"].stats.waits if why == reason]


def shop_replicas(source: KubernetesWatchSource) -> str | None:
    """``ready/desired`` of ``shop`` in the latest read of ``alpha``, if there is one."""
    read: ScopeRead | None = source.latest().get("alpha")
    if not isinstance(read, Snapshot):
        return None
    return next((o.status["replicas"] for o in read.observations if o.ref.name == "shop"), None)
