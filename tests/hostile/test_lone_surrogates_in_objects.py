"""A lone surrogate in a Kubernetes object or a Terraform instance refuses that item only.

JSON's ``\\ud800`` escape, when it is not half of a pair, decodes in Python to
the surrogate itself: no Unicode character, so no UTF-8 encoder, hash, SQLite
or PostgreSQL takes it, and one such value failed the whole sync at its commit
(nothing saved for any source). An observation that would hold one is refused
as one holding a NUL is: an ``invalid-entity`` finding names the object and the
field (the surrogate shown as ``\\ud800``) under the rule ``lone-surrogate``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hostile.world import (
    World,
    app,
    component,
    owner_of,
    ref,
    storable,
    terraform_state,
    terraform_sync,
)
from tests.sources.terraform.conftest import LINEAGE
from trueup.model.finding import Finding
from trueup.model.ref import EntityRef
from trueup.store import Store


def surrogate_findings(store: Store) -> list[Finding]:
    return [f for f in store.findings() if f.evidence.get("rule") == "lone-surrogate"]


def test_a_lone_surrogate_in_a_kubernetes_annotation_refuses_the_object(
    world: World, store: Store
) -> None:
    world.write("svc.yaml", component("svc"))
    world.export(app("svc", "the shop"), app("other", "fine"), app("lone", "the\ud800shop"))
    outcome = world.sync(store)
    assert outcome.summary is not None  # committed
    list(store.overview().score_changes())  # the history reads on PostgreSQL too
    other = store.entity(ref("other"))
    assert other is not None
    assert other.assembled.entity["metadata"]["description"] == "fine"
    assert owner_of(store, "svc") == "team-a"
    assert store.entity(ref("lone")) is None
    (found,) = surrogate_findings(store)
    assert found.code == "invalid-entity"
    assert found.evidence["field"] == "metadata.description"
    assert "prod/shop/App/lone" in found.message and "[lone-surrogate]" in found.message
    assert "lone surrogate" in found.message
    storable(store.findings())
    world.sync(store)  # the export unchanged: the finding stands
    assert surrogate_findings(store) == [found]


@pytest.mark.parametrize(
    ("where", "field", "shown"),
    [
        ("status", "status.app-phase", "prod/shop/App/lone@7"),
        ("label-key", "labels.tier\\udfff", "prod/shop/App/lone@7"),
        ("name", "ref", "prod/shop/App/lo\\udfffne@7"),
    ],
)
def test_a_lone_surrogate_anywhere_in_an_observation_is_named_escaped(
    world: World, store: Store, where: str, field: str, shown: str
) -> None:
    lone = app("lone", "fine")
    if where == "status":
        lone["status"] = {"phase": "Run\udfffning"}
    elif where == "label-key":
        lone["metadata"]["labels"] = {"tier\udfff": "web"}
    else:
        lone["metadata"]["name"] = "lo\udfffne"
    world.export(app("other", "fine"), lone)
    outcome = world.sync(store)
    assert outcome.summary is not None
    assert store.entity(ref("other")) is not None
    assert [e.ref.name for e in store.entities() if e.ref.name.startswith("lo")] == []
    (found,) = surrogate_findings(store)
    assert found.evidence["field"] == field
    assert found.evidence["locator"] == shown
    storable(store.findings())


def test_a_lone_surrogate_in_a_list_resource_version_is_shown_escaped(
    world: World, store: Store
) -> None:
    path = world.exports / "prod.json"
    body = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "9\ud800"}}
    path.write_text(json.dumps(body | {"items": [app("other", "fine")]}))
    outcome = world.sync(store)
    assert outcome.summary is not None  # committed
    assert store.entity(ref("other")) is not None
    assert store.snapshots()[("clusters", "prod")].version == "9\\ud800"


def test_a_surrogate_pair_in_a_kubernetes_annotation_is_the_character_it_encodes(
    world: World, store: Store
) -> None:
    world.export(app("cart", "shop \ud83d\uded2"))
    path = world.exports / "prod.json"
    assert "\\ud83d\\uded2" in path.read_text()  # written as a pair of escapes
    assert world.sync(store).summary is not None
    stored = store.entity(ref("cart"))
    assert stored is not None
    assert stored.assembled.entity["metadata"]["description"] == "shop \U0001f6d2"
    assert surrogate_findings(store) == []


def test_a_lone_surrogate_in_a_terraform_attribute_refuses_that_instance(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    outcome = terraform_sync(tmp_path, db_url, store, terraform_state(engine="post\ud800gres"))
    assert outcome.summary is not None  # committed
    list(store.overview().score_changes())
    names = sorted(e.ref.name for e in store.entities())
    assert names == ["prod.aws_db_instance.main"]
    (found,) = surrogate_findings(store)
    assert found.evidence["field"] == "metadata.annotations.trueup.io/terraform-engine"
    assert "aws_db_instance.odd" in found.message and "[lone-surrogate]" in found.message
    storable(store.findings())


def test_a_lone_surrogate_in_a_terraform_lineage_refuses_the_state(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    lineage = LINEAGE[:4] + "\udc80" + LINEAGE[4:]
    outcome = terraform_sync(tmp_path, db_url, store, terraform_state(lineage=lineage))
    assert outcome.exit_code == 2  # the scope failed: nothing of it is read
    assert [(f.source, f.scope) for f in outcome.failures] == [("infra", "prod")]
    message = outcome.failures[0].message
    assert "lineage" in message
    message.encode()  # shown escaped
    health = {s.scope: s for s in store.scopes()}["prod"]
    assert health.last_error is not None
    health.last_error.encode()
    assert store.entity(EntityRef.of("resource", None, "prod.aws_db_instance.main")) is None


def test_a_lone_surrogate_in_a_terraform_error_is_shown_escaped(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    state = json.loads(terraform_state())
    state["serial"] = "1\ud800"
    outcome = terraform_sync(tmp_path, db_url, store, json.dumps(state))
    assert outcome.summary is not None  # committed: the scope failed, not the sync
    (failure,) = outcome.failures
    assert failure.scope == "prod" and 'not "1\\ud800"' in failure.message


def test_terraform_instances_named_apart_by_lone_surrogates_are_each_refused(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    """Their names slug alike and are told apart by a hash of their addresses."""
    state = json.loads(terraform_state())
    (main, _) = state["resources"]
    main["each"] = "map"
    main["instances"] = [
        {"index_key": key, "attributes": {"id": key, "engine": "postgres"}}
        for key in ("a\ud800", "a\udfff", "b")
    ]
    outcome = terraform_sync(tmp_path, db_url, store, json.dumps(state))
    assert outcome.summary is not None and outcome.failures == []
    names = sorted(e.ref.name for e in store.entities())
    assert names == ["prod.aws_db_instance.main.b", "prod.aws_db_instance.odd"]
    assert len(surrogate_findings(store)) == 2
    storable(store.findings())


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (b'  description: "the\\ud800shop"\n', "yaml-syntax"),  # the escape: libyaml refuses it
        (b"  description: the\xed\xa0\x80shop\n", "encoding"),  # its bytes: not UTF-8
    ],
    ids=["escape", "bytes"],
)
def test_a_catalog_yaml_file_never_makes_a_lone_surrogate(
    world: World, store: Store, content: bytes, rule: str
) -> None:
    world.write("good.yaml", component("good"))
    text = component("odd").replace('  description: "The service"\n', "")
    (world.catalog / "odd.yaml").write_bytes(text.encode().replace(b"spec:", content + b"spec:"))
    outcome = world.sync(store)
    assert outcome.summary is not None
    assert owner_of(store, "good") == "team-a"
    assert store.entity(ref("odd")) is None
    (found,) = [f for f in store.findings() if f.evidence.get("path") == "odd.yaml"]
    assert found.code == "invalid-file" and found.evidence["rule"] == rule
    storable(store.findings())
