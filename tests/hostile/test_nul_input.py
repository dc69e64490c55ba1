"""A NUL character (U+0000) in source input never reaches the store (SPEC section 10).

PostgreSQL keeps no NUL in a text column ("text fields cannot contain NUL")
and its JSON path operators refuse ``\\u0000`` anywhere in a json value. A
catalog document or a Kubernetes object holding one is refused where it comes
in, with a finding naming the file (or object), the field and the rule
``nul-character``; the sync commits everything else, on SQLite and PostgreSQL
alike, and an entity refused this way keeps its last good version.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.hostile.world import (
    World,
    app,
    component,
    owner_of,
    ref,
    terraform_state,
    terraform_sync,
)
from trueup.model.finding import Finding
from trueup.model.ref import EntityRef
from trueup.store import Store


def nul_findings(store: Store) -> list[Finding]:
    return [f for f in store.findings() if f.evidence.get("rule") == "nul-character"]


def no_nul_anywhere(findings: Iterable[Finding]) -> None:
    for f in findings:
        assert "\0" not in json.dumps(f.to_json(), ensure_ascii=False)
        assert "\\u0000" not in json.dumps(f.to_json())


def test_a_nul_in_a_value_refuses_its_document_and_the_sync_commits(
    world: World, store: Store
) -> None:
    world.write("good.yaml", component("good"))
    world.write("bad.yaml", component("bad", owner='"team\\0a"'))
    outcome = world.sync(store)
    assert outcome.summary is not None  # committed
    assert owner_of(store, "good") == "team-a"
    assert store.entity(ref("bad")) is None
    (found,) = nul_findings(store)
    assert found.code == "invalid-file"
    assert found.evidence["path"] == "bad.yaml"
    assert found.evidence["field"] == "spec.owner"
    assert found.evidence["line"] == 9
    assert "bad.yaml" in found.message and "spec.owner" in found.message
    assert "[nul-character]" in found.message
    no_nul_anywhere(store.findings())


def test_a_refused_document_keeps_its_last_good_version(world: World, store: Store) -> None:
    world.write("svc.yaml", component("svc"))
    world.sync(store)
    world.write("svc.yaml", component("svc", owner='"team\\x00b"'))
    outcome = world.sync(store)
    assert outcome.summary is not None
    assert owner_of(store, "svc") == "team-a"
    (found,) = nul_findings(store)
    assert found.evidence["field"] == "spec.owner"
    assert [r.change for r in store.revisions(ref("svc"))] == ["created"]


def test_a_nul_in_a_key_is_named_without_the_nul(world: World, store: Store) -> None:
    world.write("good.yaml", component("good"))
    text = component("keyed") + '  "ex\\0tra": x\n'
    text = text.replace("metadata:\n", 'metadata:\n  annotations: {"example.com/a\\0b": "v"}\n')
    world.write("keyed.yaml", text)
    outcome = world.sync(store)
    assert outcome.summary is not None
    assert owner_of(store, "good") == "team-a"
    assert store.entity(ref("keyed")) is None
    (found,) = nul_findings(store)
    assert found.evidence["path"] == "keyed.yaml"
    # the first of the two; the document is refused at it
    assert found.evidence["field"] == "metadata.annotations.example.com/a\\0b"
    assert "metadata.annotations.example.com/a\\0b holds a NUL character" in found.message
    no_nul_anywhere(store.findings())


def test_a_nul_in_a_description_leaves_the_score_history_readable(
    world: World, store: Store
) -> None:
    world.write("good.yaml", component("good"))
    world.write("described.yaml", component("described", description='"a\\0b"'))
    outcome = world.sync(store)
    assert outcome.summary is not None
    changes = list(store.overview().score_changes())  # PostgreSQL's JSON operators too
    assert {c.ref for c in changes} == {ref("good"), EntityRef.of("group", None, "team-a")}
    assert store.entity(ref("described")) is None
    (found,) = nul_findings(store)
    assert found.evidence["field"] == "metadata.description"


@pytest.mark.parametrize(
    ("placeholder", "content"),
    [("$text", b"the\x00shop"), ("$json", b'"the\\u0000shop"')],
    ids=["text", "json"],
)
def test_a_nul_read_through_a_placeholder_refuses_the_document(
    world: World, store: Store, placeholder: str, content: bytes
) -> None:
    world.write("good.yaml", component("good"))
    (world.catalog / "about.txt").write_bytes(content)
    world.write("read.yaml", component("read", description=f"{{{placeholder}: ./about.txt}}"))
    outcome = world.sync(store)
    assert outcome.summary is not None
    list(store.overview().score_changes())  # PostgreSQL's JSON operators too
    assert owner_of(store, "good") == "team-a"
    assert store.entity(ref("read")) is None
    (found,) = [f for f in store.findings() if f.evidence.get("path") == "read.yaml"]
    assert found.code == "invalid-entity"
    assert found.evidence["field"] == "metadata.description"
    assert "[nul-character]" in found.message
    no_nul_anywhere(store.findings())


def test_a_nul_in_a_kubernetes_annotation_refuses_the_object(world: World, store: Store) -> None:
    world.write("svc.yaml", component("svc"))
    world.export(app("svc", "the shop"), app("other", "fine"), app("lone", "the\0shop"))
    outcome = world.sync(store)
    assert outcome.summary is not None  # committed
    list(store.overview().score_changes())  # the history reads on PostgreSQL too
    other = store.entity(ref("other"))
    assert other is not None
    assert other.assembled.entity["metadata"]["description"] == "fine"
    assert owner_of(store, "svc") == "team-a"
    assert store.entity(ref("lone")) is None
    (found,) = nul_findings(store)
    assert found.evidence["field"] == "metadata.description"
    assert "prod/shop/App/lone" in found.message and "[nul-character]" in found.message
    no_nul_anywhere(store.findings())
    world.sync(store)  # the export unchanged: the finding stands
    assert nul_findings(store) == [found]


def test_a_nul_in_a_terraform_attribute_refuses_that_instance(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    outcome = terraform_sync(tmp_path, db_url, store, terraform_state(engine="post\0gres"))
    assert outcome.summary is not None  # committed
    list(store.overview().score_changes())  # the history reads on PostgreSQL too
    names = sorted(e.ref.name for e in store.entities())
    assert names == ["prod.aws_db_instance.main"]
    (found,) = nul_findings(store)
    assert found.evidence["field"] == "metadata.annotations.trueup.io/terraform-engine"
    assert "aws_db_instance.odd" in found.message and "[nul-character]" in found.message
    no_nul_anywhere(store.findings())


def test_a_nul_in_a_terraform_lineage_refuses_the_state(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    outcome = terraform_sync(tmp_path, db_url, store, terraform_state(lineage="b1a7\0f3c2"))
    assert outcome.exit_code == 2  # the scope failed: nothing of it is read
    assert [(f.source, f.scope) for f in outcome.failures] == [("infra", "prod")]
    assert "lineage" in outcome.failures[0].message
    assert "\0" not in outcome.failures[0].message
    health = {s.scope: s for s in store.scopes()}["prod"]
    assert health.last_error is not None and "\0" not in health.last_error
