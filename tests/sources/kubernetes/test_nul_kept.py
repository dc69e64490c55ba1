"""An object that gains a NUL or a lone surrogate keeps its last good observation, on every path.

PostgreSQL stores no NUL, and no store takes a lone surrogate (JSON's
``"\\ud800"``, no Unicode character: UTF-8 cannot encode it), so an object whose
observation would hold one is refused with a ``nul-character`` or
``lone-surrogate`` finding. Refused is not gone: as a catalog
file keeps its last good version, the object keeps the observation of its last
good read (with its old time, so it turns stale after ``max_age``), through the
live reader, an export file and a watch alike. An object never read without a
NUL (or surrogate) has nothing to keep: the finding alone.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.sources.kubernetes.builders import deployment
from tests.sources.kubernetes.conftest import Clusters
from tests.sources.kubernetes.harness import (
    LATER,
    NOW,
    annotations_of,
    k8s_config,
    live_source,
    run_sync,
)
from trueup.model.finding import Finding
from trueup.model.observation import Observation, ScopeRead, Snapshot
from trueup.model.ref import EntityRef
from trueup.sources.kubernetes import KubernetesSnapshotSource
from trueup.sources.kubernetes.config import KubernetesSourceConfig
from trueup.sources.kubernetes.watch import WatchSettings, utc_now
from trueup.sources.kubernetes.watch_source import KubernetesWatchSource
from trueup.store import Store

GOOD = "ghcr.io/acme/app:1"


@dataclass(frozen=True)
class Flaw:
    image: str  # an image that makes the observation unstorable
    rule: str  # the rule its finding names


@pytest.fixture(
    params=[
        Flaw("ghcr.io/acme/app:2\0", "nul-character"),
        Flaw("ghcr.io/acme/app:2\ud800", "lone-surrogate"),
    ],
    ids=["nul", "surrogate"],
)
def flaw(request: pytest.FixtureRequest) -> Flaw:
    return request.param  # type: ignore[no-any-return]


def _stored(store: Store, source: str, scope: str, name: str) -> list[Observation]:
    """The stored observations of the Deployment ``name`` of one scope."""
    snapshot = store.snapshots()[(source, scope)]
    return [o for o in snapshot.observations if f"/Deployment/{name}" in o.provenance.locator]


def _shown(store: Store, name: str, key: str) -> list[str]:
    """The values of one status key of ``component:default/<name>`` at its places."""
    stored = store.entity(EntityRef.of("component", None, name))
    assert stored is not None and not stored.removed
    return [p.value for p in stored.assembled.places if p.key == key]


def _refusals(store: Store, flaw: Flaw) -> list[Finding]:
    return [f for f in store.findings() if f.evidence.get("rule") == flaw.rule]


def _says_kept(found: Finding, scope: str, kept: Observation) -> None:
    assert found.evidence["field"] == "status.images"
    assert str(found.evidence["locator"]).split("@")[0] == f"{scope}/shop/Deployment/api"
    assert found.evidence["kept"] == kept.provenance.locator
    assert f"{scope}/shop/Deployment/api" in found.message and "\0" not in found.message
    found.message.encode()  # no surrogate either
    assert "last good observation" in found.message and "kept" in found.message


def test_live_an_object_that_gains_a_nul_or_surrogate_keeps_its_last_good_observation(
    clusters: Clusters, store: Store, monkeypatch: pytest.MonkeyPatch, flaw: Flaw
) -> None:
    clusters.alpha.apply(deployment("api", "shop", image=GOOD), deployment("web", "web"))
    config = k8s_config(clusters, "alpha", collect=["workloads"])
    source = live_source(clusters, "alpha", collect=["workloads"])
    assert run_sync(monkeypatch, store, source, config).exit_code == 0
    (before,) = _stored(store, "k8s", "alpha", "api")

    clusters.alpha.apply(deployment("api", "shop", image=flaw.image, ready=1))
    outcome = run_sync(monkeypatch, store, source, config, now=LATER)
    assert outcome.summary is not None  # committed, on PostgreSQL too

    # the observation of the last good read, as it was: its status and its time
    assert _stored(store, "k8s", "alpha", "api") == [before]
    assert before.provenance.observed_at == NOW
    assert _shown(store, "shop", "images") == [GOOD]
    assert annotations_of(store, "component:default/shop")["trueup.io/replicas"] == "2/2"
    (found,) = _refusals(store, flaw)
    _says_kept(found, "alpha", before)

    # still refused on the next read: the same observation stays, it is not re-dated
    outcome = run_sync(monkeypatch, store, source, config, now=LATER + (LATER - NOW))
    assert _stored(store, "k8s", "alpha", "api") == [before]
    assert [f.message for f in _refusals(store, flaw)] == [found.message]

    # fixed: read again as any object is
    clusters.alpha.apply(deployment("api", "shop", image=GOOD, ready=1))
    run_sync(monkeypatch, store, source, config, now=LATER + 2 * (LATER - NOW))
    (after,) = _stored(store, "k8s", "alpha", "api")
    assert after.status["replicas"] == "1/2" and after.provenance.observed_at > NOW
    assert _refusals(store, flaw) == []


def test_live_an_object_never_read_storable_is_a_finding_only(
    clusters: Clusters, store: Store, monkeypatch: pytest.MonkeyPatch, flaw: Flaw
) -> None:
    clusters.alpha.apply(deployment("web", "web"))
    config = k8s_config(clusters, "alpha", collect=["workloads"])
    source = live_source(clusters, "alpha", collect=["workloads"])
    run_sync(monkeypatch, store, source, config)

    clusters.alpha.apply(deployment("api", "shop", image=flaw.image))
    run_sync(monkeypatch, store, source, config, now=LATER)
    assert _stored(store, "k8s", "alpha", "api") == []
    (found,) = _refusals(store, flaw)
    assert "kept" not in found.evidence and "last good" not in found.message
    assert "it is not read" in found.message


# --- an export file --------------------------------------------------------------------------


def _export(path: Path, at: datetime, *items: dict[str, Any]) -> None:
    body = {"apiVersion": "v1", "kind": "List", "items": list(items)}
    path.write_text(json.dumps(body))
    os.utime(path, (at.timestamp(), at.timestamp()))


def test_export_an_object_that_gains_a_nul_or_surrogate_keeps_its_last_good_observation(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch, flaw: Flaw
) -> None:
    path = tmp_path / "prod.json"
    config = KubernetesSourceConfig(
        id="exports", type="kubernetes", snapshot=str(path), collect=["workloads"]
    )
    source = KubernetesSnapshotSource(config)
    _export(path, NOW, deployment("api", "shop", image=GOOD), deployment("web", "web"))
    run_sync(monkeypatch, store, source, config)
    (before,) = _stored(store, "exports", "prod", "api")

    _export(path, LATER, deployment("api", "shop", image=flaw.image), deployment("web", "web"))
    outcome = run_sync(monkeypatch, store, source, config, now=LATER)
    assert outcome.summary is not None

    assert _stored(store, "exports", "prod", "api") == [before]
    assert before.provenance.observed_at == NOW  # as old as the export it was read from
    (web,) = _stored(store, "exports", "prod", "web")
    assert web.provenance.observed_at == LATER
    assert _shown(store, "shop", "images") == [GOOD]
    (found,) = _refusals(store, flaw)
    _says_kept(found, "prod", before)


# --- a watch -----------------------------------------------------------------------------------


def _short_wait(event: threading.Event, seconds: float) -> None:
    event.wait(min(seconds, 0.02))


def _latest(source: KubernetesWatchSource, check: Any) -> Snapshot:
    def ready(latest: dict[str, ScopeRead]) -> bool:
        read = latest.get("alpha")
        return isinstance(read, Snapshot) and bool(check(read))

    assert source.wait_for(ready, 15.0), source.latest().get("alpha")
    read = source.latest()["alpha"]
    assert isinstance(read, Snapshot)
    return read


def _images(read: Snapshot) -> dict[str, str]:
    return {o.ref.name: o.status["images"] for o in read.observations if "images" in o.status}


def test_watch_an_object_that_gains_a_nul_or_surrogate_keeps_its_last_good_observation(
    clusters: Clusters, store: Store, monkeypatch: pytest.MonkeyPatch, flaw: Flaw
) -> None:
    server = clusters.alpha
    server.apply(deployment("api", "shop", image=GOOD), deployment("web", "web"))
    config = k8s_config(clusters, "alpha", collect=["workloads"])
    source = KubernetesWatchSource(
        config,
        settings=WatchSettings(watch_timeout=60.0, idle_timeout=5.0, refresh=0.05),
        wait=_short_wait,
        rng=lambda: 0.0,
    )
    source.start()
    try:
        first = _latest(source, lambda r: _images(r).get("shop") == GOOD)
        (seen,) = [o for o in first.observations if o.ref.name == "shop"]
        run_sync(monkeypatch, store, source, config, now=utc_now())  # the watch's clock
        (before,) = _stored(store, "k8s", "alpha", "api")

        server.apply(deployment("api", "shop", image=flaw.image, ready=1))
        read = _latest(
            source, lambda r: any(f.evidence.get("rule") == flaw.rule for f in r.findings)
        )
        # the last good observation the watch saw: not re-stamped while refused
        (kept,) = [o for o in read.observations if o.ref.name == "shop"]
        assert kept.status == seen.status
        (web,) = [o for o in read.observations if o.ref.name == "web"]
        later = _latest(
            source,
            lambda r: (
                [o.provenance.observed_at for o in r.observations if o.ref.name == "web"]
                != [web.provenance.observed_at]
            ),
        )
        (still,) = [o for o in later.observations if o.ref.name == "shop"]
        assert still.provenance == kept.provenance

        outcome = run_sync(monkeypatch, store, source, config, now=utc_now())
        assert outcome.summary is not None
        (stored,) = _stored(store, "k8s", "alpha", "api")
        assert stored.status == before.status
        assert stored.provenance.locator == before.provenance.locator
        assert _shown(store, "shop", "images") == [GOOD]
        (found,) = _refusals(store, flaw)
        _says_kept(found, "alpha", stored)

        server.apply(deployment("api", "shop", image=GOOD, ready=1))
        fixed = _latest(source, lambda r: not any(f.evidence.get("rule") for f in r.findings))
        (api,) = [o for o in fixed.observations if o.ref.name == "shop"]
        assert api.status["replicas"] == "1/2"
    finally:
        source.stop()


def test_watch_an_object_refused_at_its_first_list_keeps_the_stored_observation(
    clusters: Clusters, store: Store, monkeypatch: pytest.MonkeyPatch, flaw: Flaw
) -> None:
    """The watch never saw it good, the last sync did: the stored observation is kept."""
    server = clusters.alpha
    server.apply(deployment("api", "shop", image=GOOD), deployment("web", "web"))
    config = k8s_config(clusters, "alpha", collect=["workloads"])
    live = live_source(clusters, "alpha", collect=["workloads"])
    run_sync(monkeypatch, store, live, config, now=utc_now())  # the watch's clock
    (before,) = _stored(store, "k8s", "alpha", "api")

    server.apply(deployment("api", "shop", image=flaw.image))
    source = KubernetesWatchSource(
        config,
        settings=WatchSettings(watch_timeout=60.0, idle_timeout=5.0),
        wait=_short_wait,
        rng=lambda: 0.0,
    )
    previous = {scope: s for (src, scope), s in store.previous_snapshots().items() if src == "k8s"}
    source.start(previous=previous)
    try:
        read = _latest(source, lambda r: any(o.ref.name == "web" for o in r.observations))
        (kept,) = [o for o in read.observations if o.ref.name == "shop"]
        assert kept == before
        run_sync(monkeypatch, store, source, config, now=utc_now())
        assert _stored(store, "k8s", "alpha", "api") == [before]
    finally:
        source.stop()
