"""``dangling-ref`` (SPEC 7) is about the catalog Backstage will have, not trueup's own rows.

A relation to an entity the feed never serves — a kind outside ``backstage.kinds``
(its ``unsupported-kind`` entity is kept, never emitted) — dangles in Backstage,
so it is a ``dangling-ref`` here too. An entity whose removal is held is still
served (nothing is removed while held), so a relation to it resolves; once the
removal is accepted it dangles. Both the incremental path and the reference path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.assemble.builders import (
    NOW,
    catalog_snapshot,
    component,
    group,
    policy,
    snapshot,
    system,
)
from trueup.assemble.assembler import assemble
from trueup.config import parse_config
from trueup.model.emission import EmissionPolicy
from trueup.model.observation import Nature, Observation, Provenance
from trueup.model.ref import EntityRef, parse_ref
from trueup.pipeline import SyncOutcome, sync
from trueup.store import Store

WEB = parse_ref("component:web")
NOT_SERVED = (
    "spec.dependsOn 'resource:sessions' resolves to an entity that is not served: "
    "kind 'resource' is not in backstage.kinds"
)


def _dangling(findings: Any) -> list[tuple[str, str]]:
    return [(f.evidence["field"], f.message) for f in findings if f.code == "dangling-ref"]


def test_a_relation_to_a_kind_the_feed_does_not_serve_dangles() -> None:
    sessions = Observation(
        ref=EntityRef.of("resource", None, "sessions"),
        nature=Nature.ACTUAL,
        provenance=Provenance("infra", "state", "state lineage/1", NOW),
        fields={"spec.type": "cache"},
        place="state",
    )
    catalog = catalog_snapshot(
        group("team-a"), system("shop"), component("web", dependsOn=["resource:sessions"])
    )
    reads = [catalog, snapshot("infra", "state", sessions, nature=Nature.ACTUAL)]
    served = assemble(reads, policy(), now=NOW)
    assert _dangling(served.entities[WEB].findings) == []
    narrow = replace(policy(), emission=EmissionPolicy(kinds=("Component", "Group", "System")))
    result = assemble(reads, narrow, now=NOW)
    assert not result.entities[parse_ref("resource:sessions")].emitted
    assert _dangling(result.entities[WEB].findings) == [("spec.dependsOn", NOT_SERVED)]
    [found] = [f for f in result.entities[WEB].findings if f.code == "dangling-ref"]
    assert found.evidence["unserved_kind"] == "resource"  # what the dashboard's hint reads


# --- end to end: a file catalog and a cluster export with a mapped custom resource ------------

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
CATALOG = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: web, description: The web shop}
spec: {type: service, lifecycle: production, owner: team-a, dependsOn: [resource:sessions]}
"""


class World:
    def __init__(self, root: Path, db_url: str) -> None:
        self.root, self.db_url = root, db_url
        (root / "catalog").mkdir()
        (root / "catalog" / "all.yaml").write_text(CATALOG)
        (root / "exports").mkdir()
        self.export(["sessions"])

    def export(self, names: list[str]) -> None:
        items = [
            {
                "apiVersion": "cache.acme.io/v1",
                "kind": "RedisCluster",
                "metadata": {"name": n, "namespace": "shop", "resourceVersion": "4"},
                "status": {"phase": "Running"},
            }
            for n in names
        ]
        path = self.root / "exports" / "prod-eu.json"
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))

    def sync(self, store: Store, kinds: list[str], **kwargs: Any) -> SyncOutcome:
        text = json.dumps(
            {
                "database": self.db_url,
                "sources": [
                    {"id": "catalog", "type": "file", "path": str(self.root / "catalog")},
                    {
                        "id": "clusters",
                        "type": "kubernetes",
                        "snapshot": str(self.root / "exports" / "*.json"),
                        "collect": [],
                        "mappings": [
                            {
                                "apiVersion": "cache.acme.io/v1",
                                "kind": "RedisCluster",
                                "entity_kind": "resource",
                                "ref": "metadata.name",
                                "fields": {"spec.type": "'cache'", "spec.owner": "'team-a'"},
                            }
                        ],
                    },
                ],
                "backstage": {"kinds": kinds},
                "safety": {"max_removal_ratio": 0.5},
            }
        )
        clock: Callable[[], datetime] = lambda: T0  # noqa: E731
        return sync(parse_config(text, "t.yaml", {}, self.root), store, now=clock, **kwargs)


def _web_dangling(store: Store) -> list[tuple[str, str]]:
    web = store.entity(WEB)
    assert web is not None
    return _dangling(web.assembled.findings)


@pytest.mark.parametrize("from_scratch", [False, True], ids=["incremental", "reference"])
def test_a_relation_to_an_unserved_kind_dangles_on_both_paths(
    tmp_path: Path, db_url: str, store: Store, from_scratch: bool
) -> None:
    world = World(tmp_path, db_url)
    world.sync(store, ["Component", "Group"], from_scratch=from_scratch)
    sessions = store.entity(parse_ref("resource:sessions"))
    assert sessions is not None and not sessions.assembled.emitted
    assert _web_dangling(store) == [("spec.dependsOn", NOT_SERVED)]
    world.sync(store, ["Component", "Group", "Resource"], from_scratch=from_scratch)
    assert _web_dangling(store) == []


@pytest.mark.parametrize("from_scratch", [False, True], ids=["incremental", "reference"])
def test_a_held_target_still_resolves_and_an_accepted_removal_dangles(
    tmp_path: Path, db_url: str, store: Store, from_scratch: bool
) -> None:
    kinds = ["Component", "Group", "Resource"]
    world = World(tmp_path, db_url)
    world.sync(store, kinds, from_scratch=from_scratch)
    world.export([])  # the cluster's read now returns nothing: held
    held = world.sync(store, kinds, from_scratch=from_scratch)
    assert held.held == {("clusters", "prod-eu"): 1}
    assert _web_dangling(store) == []  # still served, with its removal-held finding
    world.sync(store, kinds, from_scratch=from_scratch, accept_removals=["clusters"])
    assert _web_dangling(store) == [
        ("spec.dependsOn", "spec.dependsOn 'resource:sessions' resolves to nothing")
    ]
