"""One sync end to end on real files and a real database (SQLite and PostgreSQL).

Each test states a truth rule of SPEC section 5 as it must hold across syncs:
revisions only on change, failed reads replace nothing, removals need proof,
entities that lose their intent but still run stay as discovered, history ends
with a removal revision.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from trueup.config import Config, parse_config
from trueup.errors import ConfigError
from trueup.gc_policy import HELD_THRESHOLD, YOUNG_THRESHOLD, reads_held
from trueup.model.finding import Code, Severity, finding
from trueup.model.observation import Nature, Observation, Provenance, ScopeRead, Snapshot
from trueup.model.ref import EntityRef
from trueup.pipeline import SyncOutcome, refresh_freshness, sync
from trueup.plugins import registry
from trueup.sinks.directory.config import DirectorySinkConfig
from trueup.sources.base import ReadContext, Source
from trueup.store import Store

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def component_yaml(name: str, owner: str = "team-a", **extra: str) -> str:
    lines = [
        "apiVersion: backstage.io/v1alpha1",
        "kind: Component",
        "metadata:",
        f"  name: {name}",
        f"  description: The {name} service",
        "spec:",
        "  type: service",
        "  lifecycle: production",
        f"  owner: {owner}",
        "  system: shop",
    ]
    lines += [f"  {k}: {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


BASE = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: shop, description: The shop}
spec: {owner: team-a}
"""


def argo_app(name: str, health: str = "Healthy", sync: str = "Synced") -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "resourceVersion": "11"},
        "spec": {
            "source": {"repoURL": "https://git.example.com/shop.git", "path": name},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
        },
        "status": {
            "sync": {"status": sync, "revision": "abc123"},
            "health": {"status": health},
            "operationState": {"phase": "Succeeded"},
        },
    }


class World:
    """A catalog folder and a cluster export on disk, with a clock the test moves."""

    def __init__(self, root: Path, db_url: str) -> None:
        self.root = root
        self.catalog = root / "catalog"
        self.catalog.mkdir()
        (self.catalog / "base.yaml").write_text(BASE)
        self.exports = root / "exports"
        self.exports.mkdir()
        self.now = T0
        self.db_url = db_url

    def declare(self, *names: str, **owners: str) -> None:
        for name in names:
            (self.catalog / f"{name}.yaml").write_text(
                component_yaml(name, owners.get(name, "team-a"))
            )

    def run(self, *apps: dict[str, Any], cluster: str = "prod-eu") -> None:
        path = self.exports / f"{cluster}.json"
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": list(apps)}))
        stamp = self.now.timestamp()
        os.utime(path, (stamp, stamp))

    def config(self, **safety: Any) -> Config:
        text = json.dumps(
            {
                "database": self.db_url,
                "public_url": "https://trueup.example.com",
                "sources": [
                    {"id": "catalog", "type": "file", "path": str(self.catalog)},
                    {
                        "id": "clusters",
                        "type": "kubernetes",
                        "snapshot": str(self.exports / "*.json"),
                        "max_age": "15m",
                    },
                ],
                "safety": {"max_removal_ratio": 0.5, **safety},
            }
        )
        # Anchored at the world's folder: its data_dir (the sources' memos of what they read)
        # is the world's own, not the working directory's, shared by every test.
        return parse_config(text, "test.yaml", {}, self.root)

    def sync(self, store: Store, **kwargs: Any) -> SyncOutcome:
        clock: Callable[[], datetime] = lambda: self.now  # noqa: E731
        return sync(self.config(), store, now=clock, **kwargs)


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> World:
    return World(tmp_path, db_url)


def ref(name: str) -> EntityRef:
    return EntityRef.of("component", None, name)


def test_revisions_are_written_only_when_something_changes(world: World, store: Store) -> None:
    world.declare("payments", "orders")
    world.run(argo_app("payments"), argo_app("orders"))
    first = world.sync(store)
    assert first.exit_code == 0
    assert first.summary is not None
    assert first.summary.created == 4  # the group, the system and the two components
    world.now += timedelta(minutes=1)
    second = world.sync(store)
    assert second.summary is not None
    assert (second.summary.created, second.summary.changed, second.summary.removed) == (0, 0, 0)
    assert len(store.revisions(ref("payments"))) == 1

    world.declare("payments", payments="team-b")
    world.now += timedelta(minutes=1)
    third = world.sync(store)
    assert third.summary is not None and third.summary.changed >= 1
    revisions = store.revisions(ref("payments"))
    assert [r.change for r in revisions] == ["created", "changed"]
    # the cause names the run and the declaration that changed it (the file's content hash)
    cause = revisions[-1].cause
    assert cause.startswith(f"sync run {third.run_id} (cli); changed by catalog@"), cause
    assert cause.endswith(":payments.yaml#0 (spec.owner)"), cause
    assert revisions[-1].assembled is not None
    assert revisions[-1].assembled.entity["spec"]["owner"] == "team-b"


def test_a_failed_read_replaces_nothing_and_is_reported(world: World, store: Store) -> None:
    world.declare("payments")
    world.run(argo_app("payments", health="Healthy"))
    world.sync(store)
    (world.exports / "prod-eu.json").write_text('{"kind": "List", "items": [')  # truncated export
    world.now += timedelta(minutes=1)
    outcome = world.sync(store)
    assert outcome.exit_code == 2
    assert [(f.source, f.scope) for f in outcome.failures] == [("clusters", "prod-eu")]
    stored = store.entity(ref("payments"))
    assert stored is not None and not stored.removed
    notes = stored.assembled.entity["metadata"]["annotations"]
    assert notes["trueup.io/argocd-health"] == "Healthy"  # last good data, still fresh
    assert "source-failed" in {f.code for f in stored.assembled.findings}
    health = {s.scope: s for s in store.scopes()}["prod-eu"]
    assert health.last_error and health.last_failure_at is not None

    world.now += timedelta(minutes=20)  # the last good data is now older than max_age
    world.sync(store)
    stored = store.entity(ref("payments"))
    assert stored is not None
    assert (
        stored.assembled.entity["metadata"]["annotations"]["trueup.io/argocd-health"] == "Unknown"
    )
    assert "stale" in {f.code for f in stored.assembled.findings}


def test_status_dated_ahead_turns_fresh_when_the_clock_catches_up(
    world: World, store: Store
) -> None:
    """An export dated 2 h ahead (a skewed clock) is Unknown now, and fresh once within
    max_age of it, with nothing else changed: its entity is assembled again then."""
    world.declare("payments")
    world.now = T0 + timedelta(hours=2)
    world.run(argo_app("payments", health="Healthy"))  # the export's mtime: 2 h ahead
    world.now = T0
    world.sync(store)

    def health() -> str:
        stored = store.entity(ref("payments"))
        assert stored is not None
        return str(stored.assembled.entity["metadata"]["annotations"]["trueup.io/argocd-health"])

    assert health() == "Unknown"
    world.now = T0 + timedelta(hours=1, minutes=50)  # within max_age (15 m) of the export
    world.sync(store)
    assert health() == "Healthy"


def test_large_removals_are_held_until_accepted(world: World, store: Store) -> None:
    names = [f"svc-{i}" for i in range(8)]
    world.declare(*names)
    world.sync(store)
    for name in names[:6]:  # 6 of the scope's 10 entities: above max_removal_ratio 0.5
        (world.catalog / f"{name}.yaml").unlink()
    world.now += timedelta(minutes=1)
    held = world.sync(store)
    assert sum(held.held.values()) == 6
    assert store.entity(ref("svc-0")) is not None and not store.entity(ref("svc-0")).removed  # type: ignore[union-attr]
    assert "removal-held" in {f.code for f in store.findings()}

    world.now += timedelta(minutes=1)
    still = world.sync(store)  # still held on the next run, nothing lost
    assert sum(still.held.values()) == 6

    world.now += timedelta(minutes=1)
    released = world.sync(store, accept_removals=["catalog"])
    assert not released.held
    gone = store.entity(ref("svc-0"))
    assert gone is not None and gone.removed
    assert [r.change for r in store.revisions(ref("svc-0"))][-1] == "removed"
    assert ref("svc-0") not in {e.ref for e in store.entities()}
    assert "removal-held" not in {f.code for f in store.findings()}


def test_an_empty_read_after_a_non_empty_one_is_held(world: World, store: Store) -> None:
    world.declare("payments")
    world.sync(store)
    for path in world.catalog.iterdir():
        path.unlink()
    world.now += timedelta(minutes=1)
    outcome = world.sync(store)
    assert outcome.held == {("catalog", "catalog"): 3}
    assert store.entity(ref("payments")) is not None
    assert not store.entity(ref("payments")).removed  # type: ignore[union-attr]


def test_losing_intent_while_running_keeps_the_entity_as_discovered(
    world: World, store: Store
) -> None:
    world.declare("payments", "orders", "search")
    world.run(argo_app("payments"))
    world.sync(store)
    (world.catalog / "payments.yaml").unlink()
    world.now += timedelta(minutes=1)
    world.sync(store)
    stored = store.entity(ref("payments"))
    assert stored is not None and not stored.removed
    assert stored.assembled.discovered
    assert stored.assembled.entity["metadata"]["annotations"]["trueup.io/discovered"] == "true"
    assert [r.change for r in store.revisions(ref("payments"))] == ["created", "changed"]

    world.run()  # it stops running too: nothing observes it any more
    world.now += timedelta(minutes=1)
    world.sync(store, accept_removals=["clusters"])
    gone = store.entity(ref("payments"))
    assert gone is not None and gone.removed
    assert [r.change for r in store.revisions(ref("payments"))] == ["created", "changed", "removed"]


def test_a_broken_file_keeps_its_last_good_entities(world: World, store: Store) -> None:
    world.declare("payments", "orders")
    world.run()
    world.sync(store)
    (world.catalog / "payments.yaml").write_text("metadata: [unclosed\n")
    world.declare("orders", orders="team-b")
    world.now += timedelta(minutes=1)
    outcome = world.sync(store)
    assert outcome.exit_code == 0
    payments = store.entity(ref("payments"))
    assert payments is not None and not payments.removed
    assert payments.assembled.entity["spec"]["owner"] == "team-a"
    orders = store.entity(ref("orders"))
    assert orders is not None and orders.assembled.entity["spec"]["owner"] == "team-b"
    invalid = [f for f in store.findings() if f.code == "invalid-file"]
    assert invalid and "payments.yaml" in json.dumps(invalid[0].to_json())


def test_selecting_one_source_keeps_the_others_state(world: World, store: Store) -> None:
    world.declare("payments")
    world.run(argo_app("payments", health="Degraded"))
    world.sync(store)
    world.now += timedelta(minutes=1)
    outcome = world.sync(store, only=["catalog"])
    assert [s.source for s in outcome.snapshots] == ["catalog"]
    stored = store.entity(ref("payments"))
    assert stored is not None
    assert (
        stored.assembled.entity["metadata"]["annotations"]["trueup.io/argocd-health"] == "Degraded"
    )


def test_a_source_failure_ends_when_the_source_reads_again(world: World, store: Store) -> None:
    world.declare("payments")
    outcome = world.sync(store)  # no export matches yet: the kubernetes source fails as a whole
    assert outcome.exit_code == 2
    assert "source-failed" in {f.code for f in store.findings()}
    world.run(argo_app("payments"))
    world.now += timedelta(minutes=1)
    assert world.sync(store).exit_code == 0
    assert "source-failed" not in {f.code for f in store.findings()}


def test_failures_of_sources_not_read_now_stay_visible(world: World, store: Store) -> None:
    world.declare("payments")
    world.sync(store)  # the kubernetes source fails
    world.now += timedelta(minutes=1)
    world.sync(store, only=["catalog"])
    assert "source-failed" in {f.code for f in store.findings()}


class _ClusterWithAMissingType:
    """A source whose read succeeds but reports one resource type as not installed."""

    id = "hub"
    nature = Nature.ACTUAL

    def __init__(self, clock: Callable[[], datetime], severity: Severity = Severity.INFO) -> None:
        self.clock = clock
        self.severity = severity

    def observe(self, context: ReadContext) -> Iterator[ScopeRead]:
        note = finding(
            Code.SOURCE_FAILED,
            "scope:hub/prod",
            "crossplane is not installed in hub/prod",
            severity=self.severity,
            source="hub",
            scope="prod",
            kind="not-installed",
        )
        running = Observation(
            ref=EntityRef.of("component", None, "payments"),
            nature=Nature.ACTUAL,
            provenance=Provenance("hub", "prod", "prod/shop/Deployment/payments@1", self.clock()),
            fields={"metadata.annotations.backstage.io/kubernetes-id": "payments"},
            place="prod/shop",
            status={"replicas": "2/2"},
            links=(("backstage.io/kubernetes-id", "payments"),),
        )
        yield Snapshot("hub", "prod", Nature.ACTUAL, self.clock(), (running,), (note,))


def test_a_sources_own_findings_are_not_carried_over_as_failures(
    world: World, store: Store
) -> None:
    world.declare("payments")
    clock: Callable[[], datetime] = lambda: world.now  # noqa: E731
    catalog = registry().create_source(world.config().sources[0])
    both = [catalog, _ClusterWithAMissingType(clock)]
    sync(world.config(), store, now=clock, sources=both)
    for minute in range(1, 4):  # syncs that read only the catalog (a webhook refresh)
        world.now = T0 + timedelta(minutes=minute)
        sync(world.config(), store, now=clock, sources=[catalog])
        stored = store.entity(ref("payments"))
        assert stored is not None
        assert "source-failed" not in {f.code for f in stored.assembled.findings}
    notes = [f for f in store.findings() if f.subject == "scope:hub/prod"]
    assert len(notes) == 1 and notes[0].severity is Severity.INFO
    assert len(store.revisions(ref("payments"))) == 1


def test_a_scope_read_only_in_part_is_exit_2_with_its_data_kept(world: World, store: Store) -> None:
    world.declare("payments")
    clock: Callable[[], datetime] = lambda: world.now  # noqa: E731
    catalog = registry().create_source(world.config().sources[0])
    forbidden = _ClusterWithAMissingType(clock, severity=Severity.ERROR)
    outcome = sync(world.config(), store, now=clock, sources=[catalog, forbidden])
    assert outcome.exit_code == 2 and not outcome.failures
    assert [f.subject for f in outcome.partial] == ["scope:hub/prod"]
    assert store.runs()[0].status == "partial"
    info = sync(
        world.config(), store, now=clock, sources=[catalog, _ClusterWithAMissingType(clock)]
    )
    assert info.exit_code == 0  # "not installed" is information, not a failure


def test_a_sink_that_cannot_be_written_is_exit_2_and_the_store_is_committed(
    world: World, store: Store, tmp_path: Path
) -> None:
    world.declare("payments")
    world.run()
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the sink wants a folder")
    config = world.config().model_copy(
        update={"sinks": [DirectorySinkConfig(type="directory", path=str(blocked))]}
    )
    outcome = sync(config, store, now=lambda: world.now)
    assert outcome.exit_code == 2 and outcome.sink_errors
    assert store.entity(ref("payments")) is not None


def test_accepting_removals_of_an_unknown_source_is_an_error(world: World, store: Store) -> None:
    with pytest.raises(ConfigError, match="nosuch"):
        world.sync(store, accept_removals=["nosuch"])


class _ReadsWhileAnotherSyncCommits:
    """Wraps a source: while it reads, another sync (of another source) commits."""

    def __init__(self, inner: Source, other: Callable[[], object]) -> None:
        self.inner, self.other = inner, other
        self.id, self.nature = inner.id, inner.nature

    def observe(self, context: ReadContext) -> Iterator[ScopeRead]:
        self.other()
        yield from self.inner.observe(context)


def test_a_sync_that_commits_meanwhile_is_never_overwritten(world: World, store: Store) -> None:
    world.declare("payments")
    world.run(argo_app("payments", health="Healthy"))
    world.sync(store)
    clock: Callable[[], datetime] = lambda: world.now  # noqa: E731
    config = world.config()
    catalog, clusters = (registry().create_source(s, config.sources) for s in config.sources)
    world.now += timedelta(minutes=1)
    world.run(argo_app("payments", health="Degraded"))

    def cluster_sync() -> object:
        return sync(config, store, now=clock, sources=[clusters])

    slow_catalog = _ReadsWhileAnotherSyncCommits(catalog, cluster_sync)
    outcome = sync(config, store, now=clock, sources=[slow_catalog])
    assert outcome.exit_code == 0
    stored = store.entity(ref("payments"))
    assert stored is not None
    assert (
        stored.assembled.entity["metadata"]["annotations"]["trueup.io/argocd-health"] == "Degraded"
    )
    changes = [r.assembled for r in store.revisions(ref("payments")) if r.assembled is not None]
    healths = [r.entity["metadata"]["annotations"]["trueup.io/argocd-health"] for r in changes]
    assert healths == ["Healthy", "Degraded"]  # never back to Healthy


def test_status_turns_unknown_at_read_time_without_a_new_sync(world: World, store: Store) -> None:
    world.declare("payments")
    world.run(argo_app("payments", health="Healthy"))
    world.sync(store)
    config = world.config()
    assert refresh_freshness(config, store, now=lambda: T0 + timedelta(minutes=10)) is None
    later = refresh_freshness(config, store, now=lambda: T0 + timedelta(minutes=16))
    assert later is not None and later.exit_code == 0
    stored = store.entity(ref("payments"))
    assert stored is not None
    assert (
        stored.assembled.entity["metadata"]["annotations"]["trueup.io/argocd-health"] == "Unknown"
    )
    assert "stale" in {f.code for f in stored.assembled.findings}
    cause = store.revisions(ref("payments"))[-1].cause
    assert cause.startswith(
        f"sync run {later.run_id} (freshness); changed by "
        "prod-eu/argocd/Application/payments@11 (status argocd-health"
    ), cause
    assert refresh_freshness(config, store, now=lambda: T0 + timedelta(minutes=17)) is None


class _Stopped(BaseException):
    """Stops a sync the way an interrupt does."""


class _RecordsTheCollector:
    """Wraps a source: records the cyclic collector's thresholds while it reads."""

    def __init__(self, inner: Source, fail: bool = False) -> None:
        self.inner, self.fail = inner, fail
        self.id, self.nature = inner.id, inner.nature
        self.seen: list[tuple[int, int, int]] = []

    def observe(self, context: ReadContext) -> Iterator[ScopeRead]:
        self.seen.append(gc.get_threshold())
        if self.fail:
            raise _Stopped  # what a source's own errors are not: it ends the sync
        yield from self.inner.observe(context)


def test_full_collections_wait_while_a_sync_holds_its_reads_and_resume_after(
    world: World, store: Store
) -> None:
    world.declare("payments")
    before = gc.get_threshold()
    catalog = registry().create_source(world.config().sources[0])
    reading = _RecordsTheCollector(catalog)
    sync(world.config(), store, sources=[reading])
    assert reading.seen == [(YOUNG_THRESHOLD, before[1], HELD_THRESHOLD)]
    assert gc.get_threshold() == before
    with reads_held():  # a sync inside another (a server's two threads): restored by the last
        sync(world.config(), store, sources=[reading])
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], HELD_THRESHOLD)
    assert gc.get_threshold() == before
    broken = _RecordsTheCollector(catalog, fail=True)
    with pytest.raises(_Stopped):
        sync(world.config(), store, sources=[broken])
    assert broken.seen[0][2] == HELD_THRESHOLD
    assert gc.get_threshold() == before
    assert store.entity(ref("payments")) is not None
