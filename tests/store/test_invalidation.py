"""What an incremental commit must assemble again (``trueup.store.invalidation``).

The oracle of ``tests/test_incremental.py`` compares the incremental engine with
assembling from scratch over whole syncs; here each rule of the dependency
tracking is pinned on its own, on a real store filled by real commits:

- :class:`Dirty`: the refs of intent rows added or removed (never a Location's),
  the targets of actual rows removed, the refs findings name, and the link keys
  (annotation pairs, selector keys) whose declared entities changed;
- :func:`relink`: an actual observation is linked anew when a declared entity's
  annotation or selector that may link it appears, changes or goes away — its
  old and new targets are assembled, the others are not — and every one after a
  migration asked for a rebuild;
- the lookup ``relink`` links with answers as ``assemble()``'s in-memory index does,
  and takes the refs of the rows its own commit wrote from memory;
- ``mark_*``: git heads that moved, appeared or went away, scopes whose failure
  state changed, held removals that changed, and the freshness schedule.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection

from trueup.assemble.assembler import AssemblyPolicy
from trueup.assemble.linking import build_index
from trueup.assemble.precedence import Precedence
from trueup.model.finding import Finding, Severity
from trueup.model.observation import Nature, Observation, Provenance, Snapshot
from trueup.model.ref import EntityRef
from trueup.model.repository import Head, TrackedBranch
from trueup.store import Store, invalidation
from trueup.store.incremental import CommitRequest, CommitResult
from trueup.store.invalidation import (
    Dirty,
    _LinkLookup,
    mark_failures,
    mark_holds,
    mark_moved_heads,
    mark_scheduled,
)
from trueup.store.observations import StoredRow
from trueup.store.schema import assembly_state
from trueup.store.snapshots import names

from .builders import T0, at, ref

MAX_AGE = timedelta(minutes=15)
POLICY = AssemblyPolicy(
    Precedence({}, ["catalog", "git", "clusters"]),
    {"clusters": MAX_AGE},
    "http://trueup.test/backstage/entities.yaml",
)
SHOP = "https://git.example.com/shop.git"
OTHER = "https://git.example.com/other.git"
APP_SELECTOR = "argocd/app-selector"
LABEL_SELECTOR = "backstage.io/kubernetes-label-selector"
WORKFLOW_SELECTOR = "example.com/workflow-selector"  # a mapping's own link_selectors key
KUBERNETES_ID = "backstage.io/kubernetes-id"


# --- builders -------------------------------------------------------------------------


def declared(
    name: str,
    annotations: Mapping[str, str] | None = None,
    *,
    kind: str = "component",
    source: str = "catalog",
) -> Observation:
    """A declared entity with the annotations a source read from its metadata."""
    fields = {"spec.owner": "team-a"} | {
        f"metadata.annotations.{key}": value for key, value in (annotations or {}).items()
    }
    return Observation(
        ref=ref(name, kind),
        nature=Nature.INTENT,
        provenance=Provenance(source, "main", f"repo@abc:{name}.yaml#0", T0),
        fields=fields,
    )


def running(
    name: str,
    *,
    scope: str = "eu",
    links: tuple[tuple[str, str], ...] = (),
    labels: Mapping[str, str] | None = None,
    selectors: tuple[str, ...] = (),
    repo: str | None = None,
) -> Observation:
    """A cluster object; ``name`` is its fallback ref and its ``app`` label."""
    status = {"argocd-health": "Healthy"} | ({"argocd-repo": repo} if repo else {})
    return Observation(
        ref=ref(name),
        nature=Nature.ACTUAL,
        provenance=Provenance("clusters", scope, f"{scope}:shop/{name}", T0),
        place=f"{scope}/shop",
        status=status,
        links=links,
        labels=dict(labels) if labels is not None else {"app": name},
        selectors=selectors,
    )


def catalog(*observations: Observation, source: str = "catalog", version: str = "c1") -> Snapshot:
    return Snapshot(source, "main", Nature.INTENT, T0, observations, version=version)


def cluster(*observations: Observation, scope: str = "eu") -> Snapshot:
    return Snapshot("clusters", scope, Nature.ACTUAL, T0, observations, version="1")


def commit(
    store: Store,
    *reads: Snapshot,
    tracked: Mapping[str, TrackedBranch] | None = None,
) -> CommitResult:
    run = store.start_run(trigger="test", sources=[], now=T0)
    request = CommitRequest(policy=POLICY, now=T0, max_ratio=1.0, tracked=tracked or {})
    return store.commit_reads(run, list(reads), request, cause="test")


def places(store: Store, name: str) -> set[str] | None:
    """The places a Component shows its status at; None once it is no entity (any more)."""
    stored = store.entity(ref(name))
    if stored is None or stored.removed:
        return None
    return {p.place for p in stored.assembled.places}


@contextmanager
def connected(store: Store) -> Iterator[Connection]:
    with store._engine.connect() as conn:
        yield conn


# --- Dirty: what removed and added rows make dirty -----------------------------------


def test_an_added_intent_observation_makes_its_ref_and_link_keys_dirty() -> None:
    dirty = Dirty()
    dirty.intent(declared("pay", {APP_SELECTOR: "app=pay,tier", KUBERNETES_ID: "pay"}))
    assert dirty.refs == {ref("pay")}
    assert dirty.pairs == {"argocd/app-selector=app=pay,tier", "backstage.io/kubernetes-id=pay"}
    # Any annotation may hold the selector a mapping's link_selectors names.
    assert dirty.selector_keys == {APP_SELECTOR, KUBERNETES_ID}


def test_an_added_location_makes_nothing_dirty() -> None:
    dirty = Dirty()
    dirty.intent(declared("root", {KUBERNETES_ID: "root"}, kind="location"))
    assert (dirty.refs, dirty.pairs, dirty.selector_keys) == (set(), set(), set())


def test_removed_rows_make_intent_refs_targets_and_annotations_dirty() -> None:
    removed = [
        StoredRow(1, "component:default/pay", "intent", "pay.yaml", "d1"),
        StoredRow(2, "location:default/root", "intent", "root.yaml", "d2"),
        StoredRow(3, "component:default/pay-deploy", "actual", "", "d3"),
        StoredRow(4, "component:default/lonely", "intent", "lonely.yaml", "d4"),
    ]
    terms = {
        1: [f"a:{LABEL_SELECTOR}=app=pay", "a:backstage.io/kubernetes-id=pay"],
        2: ["a:backstage.io/kubernetes-id=root"],  # a Location's terms, should it have any
        3: [
            "t:component:default/pay",
            "t:component:default/cart",
            "l:backstage.io/kubernetes-id=pay",
            f"s:{APP_SELECTOR}",
        ],
    }
    dirty = Dirty()
    dirty.removed_rows(removed, terms)
    # The actual row's own ref is only its fallback: its targets are what it enriched.
    assert dirty.refs == {ref("pay"), ref("cart"), ref("lonely")}
    assert dirty.pairs == {
        f"{LABEL_SELECTOR}=app=pay",
        "backstage.io/kubernetes-id=pay",
        "backstage.io/kubernetes-id=root",
    }
    assert dirty.selector_keys == {LABEL_SELECTOR, KUBERNETES_ID}


def test_findings_make_the_entities_they_name_dirty() -> None:
    dirty = Dirty()
    dirty.findings(
        [
            Finding("invalid-entity", Severity.ERROR, "pay.yaml", "bad", {"ref": "component:pay"}),
            Finding("unparseable", Severity.ERROR, "broken.yaml", "bad", {"line": 3}),
            Finding("invalid-entity", Severity.ERROR, "x.yaml", "bad", {"entity": "not a ref:"}),
        ]
    )
    assert dirty.refs == {ref("pay")}


# --- relink: actual observations linked anew ----------------------------------------------


def test_a_selector_that_appears_changes_or_goes_claims_and_releases_cluster_objects(
    store: Store,
) -> None:
    web = running("web", selectors=(APP_SELECTOR,))
    first = commit(store, catalog(declared("cart"), declared("search")), cluster(web))
    assert (places(store, "cart"), places(store, "web")) == (set(), {"eu/shop"})  # discovered
    assert first.assembled == 3

    claimed = commit(
        store, catalog(declared("cart", {APP_SELECTOR: "app=web"}), declared("search"))
    )
    assert (places(store, "cart"), places(store, "web")) == ({"eu/shop"}, None)
    assert set(claimed.revised) == {ref("cart"), ref("web")}  # web removed: nothing names it

    # Another selector under the same key looks at web again, and leaves it with cart.
    other = commit(
        store,
        catalog(
            declared("cart", {APP_SELECTOR: "app=web"}),
            declared("search", {APP_SELECTOR: "app=search"}),
        ),
    )
    assert places(store, "cart") == {"eu/shop"}
    assert (other.assembled, set(other.revised)) == (1, {ref("search")})

    released = commit(
        store, catalog(declared("cart"), declared("search", {APP_SELECTOR: "app=search"}))
    )
    assert (places(store, "cart"), places(store, "web")) == (set(), {"eu/shop"})
    assert set(released.revised) == {ref("cart"), ref("web")}


def test_a_kubernetes_id_that_appears_claims_the_objects_labelled_with_it(store: Store) -> None:
    pods = running("pay-pods", links=((KUBERNETES_ID, "pay"),))
    commit(store, catalog(declared("pay"), declared("cart")), cluster(pods))
    assert (places(store, "pay"), places(store, "pay-pods")) == (set(), {"eu/shop"})

    claimed = commit(store, catalog(declared("pay", {KUBERNETES_ID: "pay"}), declared("cart")))
    assert (places(store, "pay"), places(store, "pay-pods")) == ({"eu/shop"}, None)
    assert claimed.assembled == 1 and set(claimed.revised) == {ref("pay"), ref("pay-pods")}

    moved = commit(
        store,
        catalog(
            declared("pay", {KUBERNETES_ID: "payments"}), declared("cart", {KUBERNETES_ID: "pay"})
        ),
    )
    assert (places(store, "pay"), places(store, "cart")) == (set(), {"eu/shop"})
    assert set(moved.revised) == {ref("pay"), ref("cart")}


def test_a_selector_under_a_mappings_own_annotation_key_claims_cluster_objects(
    store: Store,
) -> None:
    nightly = running("nightly", labels={"team": "pay"}, selectors=(WORKFLOW_SELECTOR,))
    commit(store, catalog(declared("pay")), cluster(nightly))
    assert places(store, "nightly") == {"eu/shop"}
    commit(store, catalog(declared("pay", {WORKFLOW_SELECTOR: "team=pay"})))
    assert (places(store, "pay"), places(store, "nightly")) == ({"eu/shop"}, None)
    commit(store, catalog(declared("pay", {WORKFLOW_SELECTOR: "team=web"})))
    assert (places(store, "pay"), places(store, "nightly")) == (set(), {"eu/shop"})


def test_after_a_migration_asks_for_a_rebuild_every_actual_observation_is_linked_again(
    store: Store,
) -> None:
    commit(
        store,
        catalog(declared("pay", {KUBERNETES_ID: "pay"})),
        cluster(running("pay-pods", links=((KUBERNETES_ID, "pay"),)), running("web")),
    )
    with store._engine.begin() as conn:  # what migration 0002 leaves for the next commit
        conn.execute(sa.delete(assembly_state).where(assembly_state.c.key == "rebuild"))
        conn.execute(sa.insert(assembly_state).values(key="rebuild", value=True))
    rebuilt = commit(store)
    assert (places(store, "pay"), places(store, "web")) == ({"eu/shop"}, {"eu/shop"})
    assert places(store, "pay-pods") is None
    assert rebuilt.assembled == 2
    assert commit(store).assembled == 0  # and the index is whole again


@pytest.mark.parametrize("batch", [2, 3, 2000])
def test_relinking_batch_by_batch_links_as_all_at_once(
    store: Store, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    """``relink`` decodes and links the observations a batch at a time: with batches of
    2 or 3 (new rows and stored ones in several batches), the links are those of one."""
    monkeypatch.setattr(invalidation, "RELINK_BATCH", batch)
    names = [f"svc-{i}" for i in range(7)]
    pods = [running(f"{name}-pods", links=((KUBERNETES_ID, name),)) for name in names]
    first = commit(
        store,
        catalog(*(declared(n, {KUBERNETES_ID: n}) for n in names[:4]), declared("cart")),
        cluster(*pods),
    )
    assert [places(store, n) for n in names] == [{"eu/shop"}] * 4 + [None] * 3
    assert first.assembled == 5 + 3  # the last three pods are discovered entities
    # Every declared id moves one along: each stored pod is linked anew, in batches.
    moved = commit(
        store,
        catalog(
            *(declared(n, {KUBERNETES_ID: names[i + 1]}) for i, n in enumerate(names[:6])),
            declared("cart", {KUBERNETES_ID: names[0]}),
        ),
    )
    assert places(store, "cart") == {"eu/shop"}
    assert [places(store, n) for n in names] == [{"eu/shop"}] * 6 + [None]
    assert [places(store, f"{n}-pods") for n in names] == [None] * 7  # all claimed
    assert set(moved.revised) >= {ref("cart"), *(ref(f"{n}-pods") for n in names[4:])}


# --- the lookup relink links with ---------------------------------------------------------


def test_the_stored_link_lookup_answers_as_the_in_memory_index_does(store: Store) -> None:
    entities = [
        declared("pay", {KUBERNETES_ID: "pay", APP_SELECTOR: "app=pay"}),
        declared("payments", {KUBERNETES_ID: "pay", APP_SELECTOR: "tier=web,app!=cart"}),
        declared("cart", {KUBERNETES_ID: "cart", LABEL_SELECTOR: "app in (cart)"}),  # invalid
        declared("search", {"ArgoCD/App-Selector": "app=search", LABEL_SELECTOR: "app=search"}),
        declared("orders", {"argocd/app-name": "orders-app", WORKFLOW_SELECTOR: "team=shop"}),
        # LIKE's wildcards in a key are the characters themselves.
        declared("jobs", {"example.com/batch_run%selector": "team=jobs"}),
    ]
    commit(store, catalog(*entities, declared("root", {"argocd/app-name": "x"}, kind="location")))
    index = build_index({o.ref: [o.fields] for o in entities})
    pairs = [
        (KUBERNETES_ID, "pay"),
        (KUBERNETES_ID, "cart"),
        (KUBERNETES_ID, "nobody"),
        ("argocd/app-name", "orders-app"),
        (APP_SELECTOR, "app=pay"),
    ]
    keys = [APP_SELECTOR, LABEL_SELECTOR, WORKFLOW_SELECTOR, "ArgoCD/App-Selector"]
    keys += ["example.com/batch_run%selector", "example.com/batchXrun%selector", "example.com/b"]
    with connected(store) as conn:
        asked = _LinkLookup(conn)
        assert [asked.declared_with(p) for p in pairs] == [index.declared_with(p) for p in pairs]
        assert [asked.selectors_for(k) for k in keys] == [index.selectors_for(k) for k in keys]
        prefetched = _LinkLookup(conn)
        prefetched.prefetch([running("x", links=tuple(pairs))])
        assert [prefetched.declared_with(p) for p in pairs] == [
            index.declared_with(p) for p in pairs
        ]
    assert index.declared_with((KUBERNETES_ID, "pay")) == (ref("pay"), ref("payments"))
    assert len(index.selectors_for(APP_SELECTOR)) == 2  # sorted by ref, not by selector
    assert len(index.selectors_for("example.com/batch_run%selector")) == 1


def test_a_commit_links_to_the_rows_it_wrote_without_reading_their_refs_back(
    store: Store,
) -> None:
    statements: list[str] = []

    @event.listens_for(store._engine, "before_cursor_execute")
    def _record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    def read_refs() -> list[str]:
        return [s for s in statements if s.startswith("SELECT observations.id, observations.ref")]

    pods = running("pay-pods", links=((KUBERNETES_ID, "pay"),))
    commit(store, catalog(declared("pay", {KUBERNETES_ID: "pay"})), cluster(pods))
    assert (places(store, "pay"), places(store, "pay-pods")) == ({"eu/shop"}, None)
    assert read_refs() == []  # the declared row was written by the same commit
    assert not [s for s in statements if "JOIN observations" in s]

    more = running("pay-us", scope="us", links=((KUBERNETES_ID, "pay"),))
    commit(store, cluster(more, scope="us"))  # links to a row of an earlier commit
    assert places(store, "pay") == {"eu/shop", "us/shop"}
    assert len(read_refs()) == 1


# --- git heads ------------------------------------------------------------------------


def test_entities_deployed_from_a_repository_whose_head_moved_are_dirty(store: Store) -> None:
    commit(
        store,
        cluster(running("pay", repo=SHOP), running("cart", repo=OTHER), running("search")),
    )
    shop, other = "git.example.com/shop", "git.example.com/other"
    before = {shop: ["main", "c1"], other: ["main", "o1"]}

    def moved(now: Mapping[str, Head], was: Mapping[str, list[str]] = before) -> set[EntityRef]:
        dirty = Dirty()
        with connected(store) as conn:
            mark_moved_heads(conn, dirty, was, now)
        return dirty.refs

    same = {shop: Head("main", "c1"), other: Head("main", "o1")}
    assert moved(same) == set()
    assert moved(same | {shop: Head("main", "c2")}) == {ref("pay")}
    assert moved(same | {shop: Head("release", "c1")}) == {ref("pay")}
    assert moved(same | {other: Head("main", "o2")}) == {ref("cart")}
    assert moved({other: Head("main", "o1")}) == {ref("pay")}  # shop's head went away
    assert moved(same, {other: ["main", "o1"]}) == {ref("pay")}  # shop's head appeared


def test_a_tracked_repository_whose_url_changes_is_a_moved_head(store: Store) -> None:
    """Regression: a head that went away (a git source's url changed, or the source was
    removed) made every later incremental commit fail with a KeyError."""
    deployed = cluster(running("pay", repo=SHOP), running("cart"))
    docs = catalog(declared("docs", source="git"), source="git", version="c1")
    commit(store, deployed, docs, tracked={"git": TrackedBranch(SHOP, "main")})
    moved = commit(store, tracked={"git": TrackedBranch(OTHER, "main")})
    assert moved.assembled == 1  # pay, whose repository is no longer read
    assert commit(store, tracked={"git": TrackedBranch(OTHER, "main")}).assembled == 0


# --- scope failures, held removals, the schedule ----------------------------------------


def test_the_entities_of_a_scope_whose_failure_state_changed_are_dirty(store: Store) -> None:
    commit(
        store,
        catalog(declared("pay", {KUBERNETES_ID: "pay"}), declared("root", kind="location")),
        cluster(running("pay-pods", links=((KUBERNETES_ID, "pay"),)), running("web"), scope="eu"),
        cluster(running("cart"), scope="us"),
    )
    ours = ("catalog", "main")
    eu, us = ("clusters", "eu"), ("clusters", "us")

    def failing(
        before: Mapping[tuple[str, str], str], now: Mapping[tuple[str, str], str], *, known: bool
    ) -> set[EntityRef]:
        dirty = Dirty()
        with connected(store) as conn:
            ids = {key: scope_id for scope_id, key in names(conn).items()} if known else {}
            stored = {f"{s}\0{c}": message for (s, c), message in before.items()}
            mark_failures(conn, dirty, stored, now, ids)
        return dirty.refs

    for known in (True, False):  # scope ids from this commit, or looked up
        assert failing({eu: "timeout"}, {eu: "timeout"}, known=known) == set()
        assert failing({}, {eu: "timeout"}, known=known) == {ref("pay"), ref("web")}
        assert failing({eu: "timeout"}, {}, known=known) == {ref("pay"), ref("web")}
        assert failing({us: "timeout"}, {us: "refused"}, known=known) == {ref("cart")}
        assert failing({}, {ours: "unreadable"}, known=known) == {ref("pay")}
    assert failing({}, {("clusters", "gone"): "timeout"}, known=False) == set()


def test_the_refs_of_holds_that_changed_are_dirty() -> None:
    def held(
        before: Mapping[str, list[str]], now: Mapping[tuple[str, str], set[str]]
    ) -> set[EntityRef]:
        dirty = Dirty()
        mark_holds(dirty, before, {k: frozenset(map(ref, v)) for k, v in now.items()})
        return dirty.refs

    was = {"clusters\0eu": ["component:default/pay"], "catalog\0main": ["component:default/cart"]}
    eu, main = ("clusters", "eu"), ("catalog", "main")
    assert held(was, {eu: {"pay"}, main: {"cart"}}) == set()
    assert held(was, {eu: {"pay", "web"}, main: {"cart"}}) == {ref("pay"), ref("web")}
    assert held(was, {main: {"cart"}}) == {ref("pay")}
    assert held({}, {eu: {"web"}}) == {ref("web")}


def test_entities_whose_status_expired_since_their_assembly_are_dirty(store: Store) -> None:
    commit(store, catalog(declared("docs")), cluster(running("pay"), running("web")))

    def expired(minutes: float) -> set[EntityRef]:
        dirty = Dirty()
        with connected(store) as conn:
            mark_scheduled(conn, dirty, at(minutes))
        return dirty.refs

    assert expired(1) == set()
    assert expired(15) == set()  # stale only when older than max_age (status.is_stale)
    assert expired(15.001) == {ref("pay"), ref("web")}
