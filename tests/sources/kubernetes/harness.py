"""Shared test plumbing: build the live/watch sources on the fake clusters, run the pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.sources.kubernetes.conftest import Clusters
from trueup import pipeline
from trueup.config import Config
from trueup.model.finding import Finding
from trueup.model.observation import ScopeRead, Snapshot
from trueup.model.ref import EntityRef
from trueup.sources.base import ReadContext, Source
from trueup.sources.kubernetes.config import KubernetesSourceConfig
from trueup.sources.kubernetes.live import KubernetesLiveSource
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


@contextmanager
def store_at(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'trueup.db'}")
    try:
        opened.upgrade()
        yield opened
    finally:
        opened.close()


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
