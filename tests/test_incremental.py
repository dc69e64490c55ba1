"""The incremental engine gives exactly what assembling from scratch gives (SPEC 8).

The oracle: hypothesis draws sequences of changes to a real world on disk —
catalog documents added, edited, broken, made invalid or removed, Groups
appearing and going, annotations that move cluster objects from one entity to
another, cluster exports whose status changes, that break or vanish, the clock
moving past ``max_age``, syncs of one source only and removals accepted — and
after every step two stores that saw the same steps must hold the same thing:
one synced incrementally, one with ``from_scratch=True`` (every snapshot loaded,
guarded in memory, every entity merged by ``assemble()``). Issue 7's kinds of
change are drawn too: an API whose ``definition`` a ``$text``/``$yaml``
placeholder reads from another file, that file changing alone (the descriptor's
bytes do not, so only the file source's record of what its parse depended on
can notice), and documents outside the emission policy (a Kubernetes manifest,
counted and ignored; a Template and a custom kind, ``unsupported-kind``).
Entities (documents,
annotations, scores, provenance — all but the time stamped on a discovered
entity's default fields, see :func:`comparable`), findings, the revisions
written (number, change, content hash, whole document, cause), scope health
and the feed are compared, and each run's count of ignored documents. It runs
on SQLite and on PostgreSQL. The two stores' syncs share one data folder, so the
file source's ``files.json`` is written by one store's read and read by the
other's: what it records must never stand in for what a store holds.

Below it, plain examples pin what the engine must *not* do: assemble what did
not change.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from tests.conftest import POSTGRES_ENV, REQUIRE_ENV, migrated
from trueup.config import Config, parse_config
from trueup.model.assembled import AssembledEntity
from trueup.pipeline import SyncOutcome, refresh_freshness, sync
from trueup.store import Store, assembly

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
NAMES = ("pay", "orders", "search", "cart", "ghost")
GROUPS = ("team-a", "team-b")
CLUSTERS = ("eu", "us")
HEALTH = ("Healthy", "Degraded", "Progressing", "Bogus")
SYNC = ("Synced", "OutOfSync")


# --- the world -------------------------------------------------------------------------


def component(name: str, owner: int, link: int, depends: int, described: bool) -> str:
    """A Component whose owner, links and relations the strategies vary."""
    annotations = {
        0: {},
        1: {"backstage.io/kubernetes-id": name},
        2: {"backstage.io/kubernetes-id": NAMES[(NAMES.index(name) + 1) % len(NAMES)]},
        3: {"argocd/app-name": f"{name}-app"},
        4: {"argocd/app-selector": f"app={name}"},
    }[link]
    document = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name, "annotations": annotations}
        | ({"description": f"The {name} service"} if described else {}),
        "spec": {
            "type": "service",
            "lifecycle": "production",
            "owner": GROUPS[owner] if owner < len(GROUPS) else "team-gone",
            "system": "shop",
        }
        | ({"dependsOn": [f"component:{NAMES[depends]}"]} if depends < len(NAMES) else {}),
    }
    return json.dumps(document)


SYSTEM = json.dumps(
    {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "System",
        "metadata": {"name": "shop"},
        "spec": {"owner": "team-a"},
    }
)


def group(name: str) -> str:
    return json.dumps(
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": name},
            "spec": {"type": "team", "children": []},
        }
    )


API_DEFINITIONS = {
    1: {"$text": "./openapi.yaml"},
    2: {"$yaml": "./openapi.yaml"},  # a mapping: the API breaks Backstage's rules
    3: {"$text": "./missing.yaml"},  # unresolvable: the document is invalid
}


def api(mode: int) -> str:
    """An API whose definition a placeholder reads from a file beside it."""
    return json.dumps(
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "API",
            "metadata": {"name": "shop-api"},
            "spec": {
                "type": "openapi",
                "lifecycle": "production",
                "owner": "team-a",
                "system": "shop",
                "definition": API_DEFINITIONS[mode],
            },
        }
    )


OUTSIDE_POLICY = {
    # A Kubernetes manifest: no Backstage entity at all, counted and ignored.
    1: {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pay"}},
    # Backstage kinds the default policy does not serve: unsupported-kind.
    2: {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "new-service"},
        "spec": {"type": "service", "steps": []},
    },
    3: {"apiVersion": "example.com/v1", "kind": "App", "metadata": {"name": "pay"}},
}


def app(name: str, health: str, sync_status: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": f"{name}-app",
            "namespace": "argocd",
            "labels": {"app": name, "backstage.io/kubernetes-id": name},
        },
        "spec": {
            "source": {"repoURL": "https://git.example.com/shop.git", "path": name},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
        },
        "status": {
            "sync": {"status": sync_status, "revision": "abc123"},
            "health": {"status": health},
        },
    }


def deployment(name: str, ready: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "labels": {"app": name, "backstage.io/kubernetes-id": name},
        },
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"image": "a:1"}]}}},
        "status": {"readyReplicas": ready},
    }


# A custom resource mapped to ``resource:sessions``: its ``spec.type`` is read from
# ``status.tier``, so a number there makes an entity Backstage's rules refuse after the
# merge, named by a Component's dependsOn (the ``cache`` change).
CACHE_MAPPING = {
    "apiVersion": "cache.acme.io/v1",
    "kind": "RedisCluster",
    "entity_kind": "resource",
    "ref": "metadata.name",
    "fields": {"spec.type": "status.tier", "spec.owner": "'team-a'"},
}
TIERS = {1: "cache", 2: 5}  # served; refused (a number)


def needs_cache(version: int) -> str:
    document = json.loads(component("cart", 0, 0, 9, True))
    document["metadata"]["name"] = "needs-cache"
    document["metadata"]["description"] = f"Needs the cache, version {version}"
    document["spec"]["dependsOn"] = ["resource:sessions"]
    return json.dumps(document)


class World:
    """Catalog files and cluster exports on disk, and the clock both stores sync at."""

    def __init__(self, root: Path, workers: int = 1) -> None:
        self.catalog = root / "catalog"
        self.exports = root / "exports"
        self.catalog.mkdir(parents=True)
        self.exports.mkdir()
        (self.catalog / "system.yaml").write_text(SYSTEM)
        self.now = T0
        self.config = parse_config(
            json.dumps(
                {
                    "database": "sqlite://",
                    "assembly_workers": workers,
                    "data_dir": str(root / "data"),
                    "sources": [
                        {"id": "catalog", "type": "file", "path": str(self.catalog)},
                        {
                            "id": "clusters",
                            "type": "kubernetes",
                            "snapshot": str(self.exports / "*.json"),
                            "max_age": "15m",
                            "mappings": [CACHE_MAPPING],
                        },
                    ],
                    "checks": {"required_fields": {"Component": ["metadata.description"]}},
                    "safety": {"max_removal_ratio": 0.5},
                }
            ),
            "oracle.yaml",
            {},
        )

    def apply(self, change: tuple[Any, ...]) -> None:
        kind, *args = change
        getattr(self, f"_{kind}")(*args)

    def _declare(self, name: str, owner: int, link: int, depends: int, described: bool) -> None:
        (self.catalog / f"{name}.yaml").write_text(component(name, owner, link, depends, described))

    def _pair(self, first: str, second: str, broken_second: bool) -> None:
        """Two documents in one file; the second may stop validating (it keeps its entity)."""
        other = json.loads(component(second, 0, 1, 9, True))
        if broken_second:
            other["metadata"]["name"] = "x" * 70
        text = f"{component(first, 1, 0, 9, True)}\n---\n{json.dumps(other)}\n"
        (self.catalog / "pair.yaml").write_text(text)

    def _api(self, mode: int) -> None:
        path = self.catalog / "api.yaml"
        if mode:
            path.write_text(api(mode))
        else:
            path.unlink(missing_ok=True)

    def _spec(self, version: int) -> None:
        """The file the API's placeholder reads, changed alone (or gone, for 0)."""
        path = self.catalog / "openapi.yaml"
        if version:
            path.write_text(f"openapi: 3.0.0\ninfo:\n  title: shop\n  version: '{version}'\n")
        else:
            path.unlink(missing_ok=True)

    def _outside(self, mode: int, beside: bool) -> None:
        """A document outside the emission policy, alone in a file or beside a Component."""
        path = self.catalog / "outside.yaml"
        if not mode:
            path.unlink(missing_ok=True)
            return
        documents = [json.dumps(OUTSIDE_POLICY[mode])]
        if beside:
            documents.append(component("search", 0, 0, 9, True))
        path.write_text("\n---\n".join(documents))

    def _cache(self, mode: int, needed: int) -> None:
        """The export holding the cache resource: gone (0), served (1) or refused (2); and
        the Component naming it: not declared (0), or one of two versions of it (both
        change in one sync, or one alone)."""
        needs = self.catalog / "needs.yaml"
        if needed:
            needs.write_text(needs_cache(needed))
        else:
            needs.unlink(missing_ok=True)
        path = self.exports / "cache.json"
        if not mode:
            path.unlink(missing_ok=True)
            return
        item = {
            "apiVersion": "cache.acme.io/v1",
            "kind": "RedisCluster",
            "metadata": {"name": "sessions", "namespace": "shop", "resourceVersion": "1"},
            "status": {"tier": TIERS[mode]},
        }
        text = json.dumps({"apiVersion": "v1", "kind": "List", "items": [item]})
        self._export_file("cache.json", text)

    def _remove(self, name: str) -> None:
        (self.catalog / f"{name}.yaml").unlink(missing_ok=True)

    def _break(self, name: str) -> None:
        path = self.catalog / f"{name}.yaml"
        if path.exists():
            path.write_text("metadata: [unclosed\n")

    def _groups(self, present: tuple[bool, ...]) -> None:
        names = [g for g, here in zip(GROUPS, present, strict=True) if here]
        path = self.catalog / "groups.yaml"
        if names:
            path.write_text("\n---\n".join(group(g) for g in names))
        else:
            path.unlink(missing_ok=True)

    def _cluster(self, index: int, running: tuple[tuple[str, int, int], ...]) -> None:
        items: list[dict[str, Any]] = []
        for name, health, sync_status in running:
            items.append(app(name, HEALTH[health], SYNC[sync_status]))
            items.append(deployment(name, ready=health % 3))
        self._export(index, json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))

    def _cluster_break(self, index: int) -> None:
        self._export(index, '{"kind": "List", "items": [')

    def _cluster_vanish(self, index: int) -> None:
        (self.exports / f"{CLUSTERS[index]}.json").unlink(missing_ok=True)

    def _tick(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    def _export(self, index: int, text: str) -> None:
        self._export_file(f"{CLUSTERS[index]}.json", text)

    def _export_file(self, name: str, text: str) -> None:
        path = self.exports / name
        path.write_text(text)
        stamp = self.now.timestamp()
        os.utime(path, (stamp, stamp))


CHANGES = st.one_of(
    st.tuples(
        st.just("declare"),
        st.sampled_from(NAMES),
        st.integers(0, 2),
        st.integers(0, 4),
        st.integers(0, 5),
        st.booleans(),
    ),
    st.tuples(st.just("pair"), st.sampled_from(NAMES), st.sampled_from(NAMES), st.booleans()),
    st.tuples(st.just("remove"), st.sampled_from(NAMES)),
    st.tuples(st.just("break"), st.sampled_from(NAMES)),
    st.tuples(st.just("groups"), st.tuples(st.booleans(), st.booleans())),
    st.tuples(
        st.just("cluster"),
        st.integers(0, 1),
        st.lists(
            st.tuples(st.sampled_from(NAMES), st.integers(0, 3), st.integers(0, 1)),
            max_size=4,
            unique_by=lambda item: item[0],
        ).map(tuple),
    ),
    st.tuples(st.just("cluster_break"), st.integers(0, 1)),
    st.tuples(st.just("cluster_vanish"), st.integers(0, 1)),
    st.tuples(st.just("tick"), st.sampled_from([1, 7, 16, 40])),
    st.tuples(st.just("api"), st.integers(0, 3)),
    st.tuples(st.just("spec"), st.integers(0, 3)),
    st.tuples(st.just("outside"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("cache"), st.integers(0, 2), st.integers(0, 2)),
)
HOW = st.sampled_from(
    [
        {},
        {},
        {},
        {"accept_removals": ["catalog"]},
        {"accept_removals": ["clusters"]},
        {"only": ["catalog"]},
        {"only": ["clusters"]},
        {"freshness": True},
    ]
)
STEPS = st.lists(st.tuples(CHANGES, HOW), min_size=1, max_size=9)


# --- two stores, one world ---------------------------------------------------------------


@dataclass
class Pair:
    incremental: Store
    from_scratch: Store


def run(world: World, stores: Pair, how: dict[str, Any]) -> None:
    clock: Callable[[], datetime] = lambda: world.now  # noqa: E731
    config: Config = world.config
    if how.get("freshness"):
        one = refresh_freshness(config, stores.incremental, now=clock)
        two = _fresh(config, stores.from_scratch, clock)
        assert (one is None) == (two is None)
        return
    first = sync(config, stores.incremental, now=clock, **how)
    second = sync(config, stores.from_scratch, now=clock, from_scratch=True, **how)
    assert_same_outcome(first, second)


def _fresh(config: Config, store: Store, clock: Callable[[], datetime]) -> SyncOutcome | None:
    """``refresh_freshness`` on the from-scratch path: the same decision, the other engine."""
    committed = [r for r in store.runs(limit=20) if r.committed_at is not None]
    fresh_until = committed[0].summary.get("fresh_until") if committed else None
    if not isinstance(fresh_until, str) or datetime.fromisoformat(fresh_until) > clock():
        return None
    return sync(config, store, now=clock, sources=[], trigger="freshness", from_scratch=True)


def assert_same_outcome(first: SyncOutcome, second: SyncOutcome) -> None:
    assert first.exit_code == second.exit_code
    assert first.ignored == second.ignored
    assert first.held == second.held
    assert first.entities == second.entities
    assert first.summary is not None and second.summary is not None
    one, two = first.summary, second.summary
    assert (one.created, one.changed, one.removed, one.restored, one.revisions_written) == (
        two.created,
        two.changed,
        two.removed,
        two.restored,
        two.revisions_written,
    )


def assert_same_state(stores: Pair) -> None:
    one, two = stores.incremental, stores.from_scratch
    left = {str(e.ref): e for e in one.entities(include_removed=True)}
    right = {str(e.ref): e for e in two.entities(include_removed=True)}
    assert sorted(left) == sorted(right)
    for name, entity in left.items():
        other = right[name]
        assert (entity.removed, entity.revision) == (other.removed, other.revision), name
        assert comparable(entity.assembled) == comparable(other.assembled), name
        assert revisions(one, entity) == revisions(two, other), name
    assert [f.to_json() for f in one.findings()] == [f.to_json() for f in two.findings()]
    assert one.scores() == two.scores()
    assert [(r.ref, r.yaml) for r in one.feed_rows()] == [(r.ref, r.yaml) for r in two.feed_rows()]
    assert health(one) == health(two)
    fresh_one = one.runs(limit=1)[0].summary.get("fresh_until")
    fresh_two = two.runs(limit=1)[0].summary.get("fresh_until")
    assert fresh_one == fresh_two


def comparable(entity: AssembledEntity) -> dict[str, Any]:
    """The entity as JSON, less the one stamp the engines set differently on purpose.

    A discovered entity's default fields have the provenance ``trueup:discovered``
    stamped with the time of assembly: ``assemble()`` stamps it on every run, the
    incremental engine when it has a reason to assemble the entity (see
    ``trueup.store.incremental``). Everything else must be equal.
    """
    data = entity.to_json()
    for origin in data["origins"].values():
        winner = origin["winner"]
        if winner["locator"] == "trueup:discovered":
            winner["observed_at"] = "(time of assembly)"
    return data


def revisions(store: Store, entity: Any) -> list[tuple[Any, ...]]:
    return [
        (
            r.number,
            r.change,
            r.content_hash,
            r.cause,
            r.at,
            r.assembled.to_json() if r.assembled else None,
        )
        for r in store.revisions(entity.ref)
    ]


def health(store: Store) -> list[tuple[Any, ...]]:
    return [
        (
            s.source,
            s.scope,
            s.item_count,
            s.held_removals,
            s.failing,
            s.version,
            s.read_at,
            s.data_at,
        )
        for s in store.scopes()
    ]


# --- databases for each example -------------------------------------------------------------


@contextmanager
def sqlite_pair(folder: Path) -> Iterator[Pair]:
    with (
        migrated(f"sqlite:///{folder / 'incremental.db'}") as one,
        migrated(f"sqlite:///{folder / 'scratch.db'}") as two,
    ):
        yield Pair(one, two)


@contextmanager
def postgres_pair(admin: Engine) -> Iterator[Pair]:
    names = [f"trueup_o_{secrets.token_hex(5)}" for _ in range(2)]
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        urls = [admin.url.set(database=n).render_as_string(hide_password=False) for n in names]
        with migrated(urls[0]) as one, migrated(urls[1]) as two:
            yield Pair(one, two)
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def replay(
    root: Path,
    stores: Pair,
    steps: list[tuple[tuple[Any, ...], dict[str, Any]]],
    workers: int = 1,
) -> None:
    world = World(root, workers)
    run(world, stores, {})
    assert_same_state(stores)
    for change, how in steps:
        world.apply(change)
        run(world, stores, how)
        assert_same_state(stores)


ORACLE = settings(
    max_examples=int(os.environ.get("TRUEUP_ORACLE_EXAMPLES", "40")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# A replayed case: each step a change's arguments and keywords (as STEPS draws them).
Steps = list[tuple[tuple[Any, ...], dict[str, Any]]]

# Found by the oracle: a read that adds refs while it removes all the scope had
# (search gone, four others new) must count its share against the refs before it.
REMOVED_WHILE_ADDING: Steps = [
    (("cluster", 1, (("search", 0, 0),)), {}),
    (("cluster", 1, (("orders", 0, 1), ("cart", 1, 1), ("pay", 0, 0), ("ghost", 2, 0))), {}),
]

# Found by the oracle: a hold is kept until accepted. The second read of the same
# export finds the held row counted in the scope, so its share alone (1 of 2) would
# let the removal go; the hold must stay, in both engines.
HOLD_KEPT: Steps = [
    (("declare", "pay", 0, 0, 0, False), {}),
    (("cluster", 0, (("pay", 0, 0),)), {}),
    (("cluster", 0, (("orders", 0, 0),)), {}),
    (("declare", "pay", 0, 0, 0, False), {}),
]
# Found by the oracle: a file broken and then restored to its stored bytes must be
# parsed again; its stored part must not claim the old bytes and keep the findings
# of the broken read (the other store's read had recorded the restored bytes).
BROKEN_AND_RESTORED: Steps = [
    (("pair", "pay", "pay", False), {}),
    (("declare", "pay", 0, 0, 0, False), {}),
    (("cluster", 0, (("pay", 0, 0),)), {}),
    (("break", "pay"), {}),
    (("declare", "pay", 0, 0, 0, False), {}),
]
# Found by the oracle: the same emptied export read again is held again, reported
# in the run by both engines.
EMPTIED_TWICE: Steps = [
    (("pair", "pay", "pay", False), {}),
    (("declare", "pay", 0, 0, 0, False), {}),
    (("cluster", 0, (("pay", 0, 0),)), {}),
    (("cluster", 0, ()), {}),
    (("declare", "pay", 0, 0, 0, False), {}),
]
# A target Backstage's rules refuse after the merge. Found refused in the sync that
# creates the entity naming it (rewritten as its creation); served; refused again while
# the entity naming it changes too (the commit assembles again); served, with only the
# cluster read (the naming entity is assembled again for it); both gone; both back at
# once (the naming entity restored, not created: the commit assembles again).
REFUSED_TARGET: Steps = [
    (("cache", 2, 1), {}),
    (("cache", 1, 1), {}),
    (("cache", 2, 2), {}),
    (("cache", 1, 2), {"only": ["clusters"]}),
    (("cache", 0, 0), {"accept_removals": ["catalog", "clusters"]}),
    (("cache", 2, 1), {}),
]
FOUND = (
    REMOVED_WHILE_ADDING,
    HOLD_KEPT,
    BROKEN_AND_RESTORED,
    EMPTIED_TWICE,
    REFUSED_TARGET,
)


def found_examples(test: Callable[..., None]) -> Callable[..., None]:
    """Every case the oracle found, and the seeded refused-target case, replayed first
    on each run."""
    for steps in reversed(FOUND):
        test = example(steps=steps)(test)
    return test


@ORACLE
@found_examples
@given(steps=STEPS)
def test_incremental_equals_from_scratch_on_sqlite(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[tuple[Any, ...], dict[str, Any]]]
) -> None:
    folder = tmp_path_factory.mktemp("oracle")
    with sqlite_pair(folder) as stores:
        replay(folder, stores, steps)


@settings(ORACLE, max_examples=int(os.environ.get("TRUEUP_ORACLE_WORKER_EXAMPLES", "12")))
@found_examples
@given(steps=STEPS)
def test_incremental_in_worker_processes_equals_from_scratch(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[tuple[Any, ...], dict[str, Any]]]
) -> None:
    """The same, with batches of two refs assembled in two forked workers (parallel.py)."""
    folder = tmp_path_factory.mktemp("oracle")
    with pytest.MonkeyPatch.context() as patch, sqlite_pair(folder) as stores:
        patch.setattr(assembly, "BATCH", 2)  # a world this small still makes many batches
        replay(folder, stores, steps, workers=2)


@pytest.mark.postgres
@settings(ORACLE, max_examples=int(os.environ.get("TRUEUP_ORACLE_PG_EXAMPLES", "12")))
@found_examples
@given(steps=STEPS)
def test_incremental_equals_from_scratch_on_postgres(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_admin: Engine | str,
    steps: list[tuple[tuple[Any, ...], dict[str, Any]]],
) -> None:
    if isinstance(postgres_admin, str):
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"PostgreSQL is required but {postgres_admin}", pytrace=False)
        pytest.skip(f"PostgreSQL oracle skipped: {postgres_admin}; set {POSTGRES_ENV}")
    folder = tmp_path_factory.mktemp("oracle")
    with postgres_pair(postgres_admin) as stores:
        replay(folder, stores, steps)


# --- what the engine assembles ----------------------------------------------------------


@pytest.fixture
def one_store(tmp_path: Path, db_url: str) -> Iterator[tuple[World, Store]]:
    with migrated(db_url) as store:
        yield World(tmp_path / "world"), store


def step(world: World, store: Store, *changes: tuple[Any, ...], **how: Any) -> SyncOutcome:
    for change in changes:
        world.apply(change)
    return sync(world.config, store, now=lambda: world.now, **how)


def finding_codes(store: Store, name: str) -> set[str]:
    from trueup.model.ref import EntityRef

    stored = store.entity(EntityRef.of("component", None, name))
    assert stored is not None
    return {f.code for f in stored.assembled.findings}


def degraded(store: Store, name: str) -> bool:
    """Whether the Component shows Argo CD health drift (not mere "deployed nowhere")."""
    from trueup.model.ref import EntityRef

    stored = store.entity(EntityRef.of("component", None, name))
    assert stored is not None
    return any(f.evidence.get("key") == "argocd-health" for f in stored.assembled.findings)


def test_a_sync_with_nothing_changed_assembles_nothing(one_store: tuple[World, Store]) -> None:
    world, store = one_store
    first = step(
        world,
        store,
        ("groups", (True, True)),
        ("declare", "pay", 0, 1, 9, True),
        ("declare", "orders", 1, 0, 0, True),
        ("cluster", 0, (("pay", 0, 0), ("ghost", 1, 1))),
    )
    assert first.assembled == first.entities == 6  # 2 groups, system, 2 components, ghost
    world.apply(("tick", 1))
    again = step(world, store)
    assert (again.assembled, again.summary and again.summary.changed) == (0, 0)


def test_one_changed_file_assembles_its_entity_only(one_store: tuple[World, Store]) -> None:
    world, store = one_store
    step(world, store, ("groups", (True, True)), *[("declare", n, 0, 0, 9, True) for n in NAMES])
    changed = step(world, store, ("declare", "cart", 1, 0, 9, True))
    assert changed.assembled == 1
    assert changed.summary is not None and changed.summary.changed == 1


def test_a_group_that_appears_resolves_the_refs_that_named_it(
    one_store: tuple[World, Store],
) -> None:
    world, store = one_store
    step(world, store, ("groups", (True, False)), ("declare", "pay", 1, 0, 9, True))
    assert "dangling-ref" in finding_codes(store, "pay")  # team-b does not exist yet
    appeared = step(world, store, ("groups", (True, True)))
    assert "dangling-ref" not in finding_codes(store, "pay")
    # The groups file was rewritten (both Groups re-read), and the Component naming the new one.
    assert appeared.assembled == 3


def test_workers_know_the_stored_entities_their_batches_name(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Group that is stored and not assembled again resolves the owners that name it."""
    monkeypatch.setattr(assembly, "BATCH", 2)  # five Components: three batches, two workers
    with migrated(db_url) as store:
        world = World(tmp_path / "world", workers=2)
        declared = [("declare", n, 1, 0, 9, True) for n in NAMES]
        step(world, store, ("groups", (True, True)), *declared)
        changed = step(world, store, *[("declare", n, 1, 0, 9, False) for n in NAMES])
        assert changed.assembled == len(NAMES)  # the Groups are not among them
        for name in NAMES:
            assert "dangling-ref" not in finding_codes(store, name)
            assert "missing-field" in finding_codes(store, name)  # assembled anew, undescribed


def test_an_annotation_that_changes_moves_the_cluster_objects(
    one_store: tuple[World, Store],
) -> None:
    world, store = one_store
    step(
        world,
        store,
        ("groups", (True, True)),
        ("declare", "pay", 0, 1, 9, True),  # backstage.io/kubernetes-id: pay
        ("declare", "cart", 0, 0, 9, True),
        ("declare", "search", 0, 0, 9, True),
        ("cluster", 0, (("pay", 1, 0),)),  # pay-app Degraded, linked to pay by its label
    )
    assert degraded(store, "pay") and not degraded(store, "cart")
    claimed = json.loads(component("cart", 0, 0, 9, True))
    claimed["metadata"]["annotations"] = {"argocd/app-name": "pay-app"}
    (world.catalog / "cart.yaml").write_text(json.dumps(claimed))
    moved = step(world, store)
    assert degraded(store, "cart")  # the app name wins over the label
    assert not degraded(store, "pay")
    assert moved.assembled == 2  # cart, and pay that lost the app; search untouched


def test_status_turns_unknown_by_the_schedule_alone(one_store: tuple[World, Store]) -> None:
    world, store = one_store
    step(
        world,
        store,
        ("groups", (True, True)),
        ("declare", "pay", 0, 1, 9, True),
        ("declare", "cart", 0, 0, 9, True),
        ("cluster", 0, (("pay", 0, 0),)),
    )
    world.apply(("tick", 16))  # past max_age 15m: only the entity with status expires
    expired = refresh_freshness(world.config, store, now=lambda: world.now)
    assert expired is not None and expired.assembled == 1
    assert "stale" in finding_codes(store, "pay")
    assert refresh_freshness(world.config, store, now=lambda: world.now) is None


def test_a_referenced_file_that_changes_alone_assembles_its_entity(
    one_store: tuple[World, Store],
) -> None:
    from trueup.model.ref import EntityRef

    world, store = one_store
    step(world, store, ("groups", (True, True)), ("spec", 1), ("api", 1))
    ref = EntityRef.of("api", None, "shop-api")
    changed = step(world, store, ("spec", 2))  # api.yaml itself is byte for byte the same
    assert changed.assembled == 1
    assert changed.summary is not None and changed.summary.changed == 1
    stored = store.entity(ref)
    assert stored is not None
    assert "version: '2'" in stored.assembled.entity["spec"]["definition"]
    cause = store.revisions(ref)[-1].cause
    assert "changed by catalog@" in cause and ":openapi.yaml (spec.definition)" in cause
    again = step(world, store)
    assert (again.assembled, again.summary and again.summary.changed) == (0, 0)


def test_documents_outside_the_policy_are_counted_and_never_served(
    one_store: tuple[World, Store],
) -> None:
    from trueup.model.ref import EntityRef

    world, store = one_store
    first = step(world, store, ("groups", (True, True)), ("outside", 1, False))
    assert first.ignored == {"catalog/catalog:outside.yaml": 1}
    kept = step(world, store)  # the file is kept unparsed: its count comes from files.json
    assert (kept.assembled, kept.ignored) == (0, {"catalog/catalog:outside.yaml": 1})
    step(world, store, ("outside", 2, False))
    assert store.entity(EntityRef.of("template", None, "new-service")) is None
    refused = [f for f in store.findings(loose=True) if f.code == "unsupported-kind"]
    assert [f.evidence.get("entity") for f in refused] == ["Template:default/new-service"]
    assert [r.ref.kind for r in store.feed_rows()] == ["group", "group", "system"]


def test_a_file_record_written_by_another_read_never_stands_in_for_the_store(
    tmp_path: Path,
) -> None:
    """files.json is written when a read ends; a store only knows what its commits wrote.

    Two stores share one data folder: the second one's stored part of api.yaml was
    parsed with the first version of openapi.yaml, while files.json already says
    the second version (recorded by the other store's read). The part must be
    parsed again, not kept.
    """
    from trueup.model.ref import EntityRef

    world = World(tmp_path / "world")
    world.apply(("spec", 1))
    world.apply(("api", 1))
    with sqlite_pair(tmp_path) as stores:
        both = (stores.incremental, stores.from_scratch)
        for store in both:
            sync(world.config, store, now=lambda: world.now)
        world.apply(("spec", 2))
        outcomes = [sync(world.config, store, now=lambda: world.now) for store in both]
        assert [o.assembled for o in outcomes] == [1, 1]
        for store in both:
            stored = store.entity(EntityRef.of("api", None, "shop-api"))
            assert stored is not None
            assert "version: '2'" in stored.assembled.entity["spec"]["definition"]


def held_in(store: Store, source: str, scope: str) -> tuple[int, int]:
    """The scope's held-removal count and how many removal-held findings the store shows."""
    (health,) = [h for h in store.scopes() if (h.source, h.scope) == (source, scope)]
    findings = store.findings(codes=("removal-held",))
    return health.held_removals, sum(1 for f in findings if f.evidence.get("scope") == scope)


def test_a_held_removal_stays_held_when_the_same_empty_export_is_read_again(
    one_store: tuple[World, Store],
) -> None:
    world, store = one_store
    running = (("pay", 0, 0), ("orders", 0, 0), ("cart", 0, 0))
    step(world, store, ("cluster", 0, running))
    emptied = step(world, store, ("cluster", 0, ()))
    assert emptied.held == {("clusters", CLUSTERS[0]): 3}
    assert held_in(store, "clusters", CLUSTERS[0]) == (3, 4)  # the scope and its 3 entities
    world.apply(("tick", 1))
    again = step(world, store)  # the export is unchanged: still empty, still no proof
    assert again.held == {("clusters", CLUSTERS[0]): 3}
    assert held_in(store, "clusters", CLUSTERS[0]) == (3, 4)
    released = step(world, store, accept_removals=["clusters"])
    assert released.held == {}
    assert held_in(store, "clusters", CLUSTERS[0]) == (0, 0)


def test_a_held_removal_in_a_file_that_is_read_again_unchanged_stays_held(
    one_store: tuple[World, Store],
) -> None:
    world, store = one_store
    world.apply(("pair", "pay", "orders", False))
    step(world, store, ("declare", "cart", 0, 0, 9, True))
    (world.catalog / "pair.yaml").write_text("")  # two of four entities gone at once
    (world.catalog / "cart.yaml").unlink()
    emptied = step(world, store)
    assert emptied.held == {("catalog", "catalog"): 3}
    again = step(world, store)
    assert again.held == {("catalog", "catalog"): 3}
    assert held_in(store, "catalog", "catalog")[0] == 3


def test_a_hold_stays_until_accepted_when_a_repeated_read_falls_under_the_ratio(
    one_store: tuple[World, Store],
) -> None:
    world, store = one_store
    step(world, store, ("declare", "pay", 1, 1, 0, True), ("cluster", 0, (("pay", 0, 0),)))
    swapped = step(world, store, ("cluster", 0, (("orders", 0, 0),)))  # all of 1 ref gone
    assert swapped.held == {("clusters", CLUSTERS[0]): 1}
    world.apply(("tick", 1))
    # The held row counts in the scope now: 1 of 2 refs would go, under the ratio.
    again = step(world, store)
    assert again.held == {("clusters", CLUSTERS[0]): 1}
    assert held_in(store, "clusters", CLUSTERS[0]) == (1, 2)
    assert "deployed-nowhere" not in finding_codes(store, "pay")
    released = step(world, store, accept_removals=[f"clusters/{CLUSTERS[0]}"])
    assert released.held == {}
    assert held_in(store, "clusters", CLUSTERS[0]) == (0, 0)


def test_new_assembly_rules_assemble_every_entity_once(
    one_store: tuple[World, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An upgrade that changes how entities are assembled: the first sync after it
    # assembles them all (none keeps what the old rules made of it), then nothing again.
    world, store = one_store
    first = step(world, store, ("groups", (True, True)), ("declare", "pay", 0, 1, 9, True))
    monkeypatch.setattr("trueup.store.incremental.RULES", 10_000)
    upgraded = step(world, store)
    assert upgraded.assembled == first.entities > 0
    assert step(world, store).assembled == 0
