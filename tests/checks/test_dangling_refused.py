"""A relation to an entity Backstage's rules refuse dangles (SPEC 7), on both paths.

An entity of a served kind whose assembled document breaks Backstage's rules is
kept as ``invalid-entity`` and never emitted, so Backstage has no such entity: a
relation to it dangles there, and here. The refusal is known only once the target
is assembled, after the merge (here a cluster's mapped resource whose ``spec.type``
a mapping reads as a number), so the entities naming it are checked again: in the
same sync (both assembled at once: a cold sync, where the incremental commit
rewrites the new entity naming it), in a later one (only the target changed), and
in one that changes both (the incremental commit assembles again from a savepoint).
A kind added to ``backstage.kinds`` is foreseen served, so that commit runs once.
The incremental path and the reference path agree.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from trueup.config import parse_config
from trueup.model.ref import parse_ref
from trueup.pipeline import SyncOutcome, sync
from trueup.store import Store

WEB = parse_ref("component:web")
SESSIONS = parse_ref("resource:sessions")
REFUSED = (
    "spec.dependsOn 'resource:sessions' resolves to an entity that is not served: "
    "it breaks Backstage's rules"
)
T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
KINDS = ("Component", "Group", "Resource")
REWRITTEN = "rewritten"  # the log of a commit that rewrote new entities it told wrongly
AGAIN = "assembling the commit's"  # the log of a commit that assembled everything again
GROUP = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: []}
"""
WEB_YAML = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: web, description: The web shop}
spec: {type: service, lifecycle: production, owner: team-a, dependsOn: [resource:sessions]}
"""


class World:
    """A catalog naming ``resource:sessions``, which a cluster's custom resource makes."""

    def __init__(self, root: Path, db_url: str) -> None:
        self.root, self.db_url = root, db_url
        (root / "catalog").mkdir()
        (root / "catalog" / "group.yaml").write_text(GROUP)
        (root / "catalog" / "web.yaml").write_text(WEB_YAML)
        (root / "exports").mkdir()

    def export(self, tier: object) -> None:
        """The resource's ``spec.type`` is read from ``status.tier``: a number breaks it."""
        item = {
            "apiVersion": "cache.acme.io/v1",
            "kind": "RedisCluster",
            "metadata": {"name": "sessions", "namespace": "shop", "resourceVersion": "4"},
            "status": {"tier": tier},
        }
        path = self.root / "exports" / "prod-eu.json"
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [item]}))

    def describe(self, text: str) -> None:
        """Web's description changed alone: web is assembled again, the resource is not."""
        (self.root / "catalog" / "web.yaml").write_text(WEB_YAML.replace("The web shop", text))

    def sync(self, store: Store, kinds: Sequence[str] = KINDS, **kwargs: Any) -> SyncOutcome:
        mapping = {
            "apiVersion": "cache.acme.io/v1",
            "kind": "RedisCluster",
            "entity_kind": "resource",
            "ref": "metadata.name",
            "fields": {"spec.type": "status.tier", "spec.owner": "'team-a'"},
        }
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
                        "mappings": [mapping],
                    },
                ],
                "backstage": {"kinds": list(kinds)},
            }
        )
        clock: Callable[[], datetime] = lambda: T0  # noqa: E731
        return sync(parse_config(text, "t.yaml", {}, self.root), store, now=clock, **kwargs)


def _dangling(store: Store) -> list[str]:
    web = store.entity(WEB)
    assert web is not None
    return [f.message for f in web.assembled.findings if f.code == "dangling-ref"]


def _refused(store: Store) -> bool:
    sessions = store.entity(SESSIONS)
    assert sessions is not None
    return not sessions.assembled.emitted


@pytest.mark.parametrize("from_scratch", [False, True], ids=["incremental", "reference"])
def test_a_target_refused_in_the_same_sync_dangles(
    tmp_path: Path,
    db_url: str,
    store: Store,
    from_scratch: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = World(tmp_path, db_url)
    world.export(5)
    with caplog.at_level(logging.INFO, "trueup.store.incremental"):
        world.sync(store, from_scratch=from_scratch)
    assert _refused(store)
    assert _dangling(store) == [REFUSED]
    [found] = [
        f
        for f in store.entity(WEB).assembled.findings  # type: ignore[union-attr]
        if f.code == "dangling-ref"
    ]
    assert found.evidence["unserved_code"] == "invalid-entity"
    # One revision: the sync that found the target refused wrote web once, as it ends up
    # (the incremental commit rewrote web as its creation, not everything again).
    assert [r.number for r in store.revisions(WEB)] == [1]
    assert (REWRITTEN in caplog.text, AGAIN in caplog.text) == (not from_scratch, False)


@pytest.mark.parametrize("from_scratch", [False, True], ids=["incremental", "reference"])
def test_a_target_that_turns_refused_or_served_later_moves_the_finding(
    tmp_path: Path,
    db_url: str,
    store: Store,
    from_scratch: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = World(tmp_path, db_url)
    world.export("cache")
    world.sync(store, from_scratch=from_scratch)
    assert not _refused(store) and _dangling(store) == []
    world.export(5)  # only the cluster changed: web is assembled again for its target
    world.sync(store, from_scratch=from_scratch)
    assert _refused(store) and _dangling(store) == [REFUSED]
    world.describe("The web shop, again")  # web alone: the target stays refused
    world.sync(store, from_scratch=from_scratch)
    assert _dangling(store) == [REFUSED]
    world.export("cache")
    world.sync(store, from_scratch=from_scratch)
    assert not _refused(store) and _dangling(store) == []
    assert AGAIN not in caplog.text
    # Both at once: web changed and its target turned refused in the same sync.
    world.describe("The web shop, once more")
    world.export(5)
    with caplog.at_level(logging.INFO, "trueup.store.incremental"):
        world.sync(store, from_scratch=from_scratch)
    assert _refused(store) and _dangling(store) == [REFUSED]
    assert (AGAIN in caplog.text) == (not from_scratch)
    assert [r.number for r in store.revisions(WEB)] == [1, 2, 3, 4, 5]


def test_a_kind_added_to_the_policy_is_foreseen_served(
    tmp_path: Path, db_url: str, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """An entity refused for its kind is not taken as refused for its rules once the policy
    serves its kind: the commit that assembles everything for the new policy does so once."""
    world = World(tmp_path, db_url)
    world.export("cache")
    world.sync(store, kinds=["Component", "Group"])
    assert _refused(store) and _dangling(store) != []
    with caplog.at_level(logging.INFO, "trueup.store.incremental"):
        world.sync(store)
    assert not _refused(store) and _dangling(store) == []
    assert AGAIN not in caplog.text and REWRITTEN not in caplog.text
