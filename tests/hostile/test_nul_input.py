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
import os
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from trueup.config import Config, parse_config
from trueup.model.finding import Finding
from trueup.model.ref import EntityRef
from trueup.pipeline import SyncOutcome, sync
from trueup.store import Store

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
TF_LINEAGE = "b1a7f3c2-6d4e-4f1a-9c2b-0e8d7a6f5b41"

BASE = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: []}
"""


def component(name: str, *, owner: str = "team-a", description: str = '"The service"') -> str:
    """A Component; ``owner`` and ``description`` are YAML scalars as written."""
    return (
        "apiVersion: backstage.io/v1alpha1\n"
        "kind: Component\n"
        "metadata:\n"
        f"  name: {name}\n"
        f"  description: {description}\n"
        "spec:\n"
        "  type: service\n"
        "  lifecycle: production\n"
        f"  owner: {owner}\n"
    )


class World:
    """A catalog folder and a cluster export (with one mapping) over a database."""

    def __init__(self, root: Path, db_url: str) -> None:
        self.catalog = root / "catalog"
        self.catalog.mkdir()
        (self.catalog / "base.yaml").write_text(BASE)
        self.exports = root / "exports"
        self.exports.mkdir()
        self.data = root / "data"
        self.now = T0
        self.db_url = db_url

    def write(self, name: str, text: str) -> None:
        (self.catalog / name).write_text(text, encoding="utf-8")

    def export(self, *items: dict[str, Any]) -> None:
        path = self.exports / "prod.json"
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": list(items)}))
        stamp = self.now.timestamp()
        os.utime(path, (stamp, stamp))

    def config(self) -> Config:
        text = json.dumps(
            {
                "database": self.db_url,
                "sources": [
                    {"id": "catalog", "type": "file", "path": str(self.catalog)},
                    {
                        "id": "clusters",
                        "type": "kubernetes",
                        "snapshot": str(self.exports / "*.json"),
                        "mappings": [
                            {
                                "name": "apps",
                                "apiVersion": "example.com/v1",
                                "kind": "App",
                                "ref": "metadata.name",
                                "fields": {
                                    "metadata.description": (
                                        'metadata.annotations."example.com/about"'
                                    )
                                },
                                "status": {"app-phase": "status.phase"},
                            }
                        ],
                    },
                ],
            }
        )
        return parse_config(text, "test.yaml", {})

    def sync(self, store: Store) -> SyncOutcome:
        clock: Callable[[], datetime] = lambda: self.now  # noqa: E731
        outcome = sync(self.config(), store, now=clock, data_dir=self.data)
        self.now += timedelta(minutes=1)
        return outcome


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> World:
    return World(tmp_path, db_url)


def app(name: str, about: str, phase: str = "Running") -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "App",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "resourceVersion": "7",
            "annotations": {"example.com/about": about},
        },
        "status": {"phase": phase},
    }


def ref(name: str) -> EntityRef:
    return EntityRef.of("component", None, name)


def nul_findings(store: Store) -> list[Finding]:
    return [f for f in store.findings() if f.evidence.get("rule") == "nul-character"]


def no_nul_anywhere(findings: Iterable[Finding]) -> None:
    for f in findings:
        assert "\0" not in json.dumps(f.to_json(), ensure_ascii=False)
        assert "\\u0000" not in json.dumps(f.to_json())


def owner_of(store: Store, name: str) -> object:
    stored = store.entity(ref(name))
    assert stored is not None and not stored.removed
    return stored.assembled.entity["spec"]["owner"]


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


def terraform_state(*, engine: str = "postgres", lineage: str = TF_LINEAGE) -> str:
    def resource(name: str, engine: str) -> dict[str, Any]:
        return {
            "mode": "managed",
            "type": "aws_db_instance",
            "name": name,
            "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
            "instances": [{"attributes": {"id": name, "engine": engine}}],
        }

    state = {
        "version": 4,
        "terraform_version": "1.9.0",
        "serial": 1,
        "lineage": lineage,
        "outputs": {},
        "resources": [resource("main", "postgres"), resource("odd", engine)],
    }
    return json.dumps(state)


def terraform_sync(tmp_path: Path, db_url: str, store: Store, state: str) -> SyncOutcome:
    (tmp_path / "prod.tfstate").write_text(state)
    text = json.dumps(
        {
            "database": db_url,
            "sources": [
                {"id": "infra", "type": "terraform", "state": str(tmp_path / "prod.tfstate")}
            ],
        }
    )
    return sync(parse_config(text, "test.yaml", {}), store, now=lambda: T0, data_dir=tmp_path)


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
