"""A lone UTF-16 surrogate (``"\\ud800"``) from source input never reaches the store.

Python's ``json`` turns a ``\\ud800`` escape that is not half of a pair into a
string holding the surrogate itself, which is no Unicode character: it cannot
be encoded as UTF-8, so hashing, SQLite and PostgreSQL all fail on it (and
PostgreSQL's ``jsonb`` refuses the escape). YAML never makes one (libyaml
refuses the escape); a ``$json`` placeholder did, and the whole sync failed
before its commit. The document is refused instead, like one holding a NUL.
"""

from __future__ import annotations

import json

import pytest

from tests.hostile.world import World, component, owner_of, ref
from trueup.store import Store


@pytest.mark.parametrize(
    "content",
    [b'"the\\ud800shop"', b'{"about": ["x", "\\udfff"]}', b'{"\\udc80": 1}'],
    ids=["value", "nested", "key"],
)
def test_a_lone_surrogate_read_through_a_json_placeholder_refuses_the_document(
    world: World, store: Store, content: bytes
) -> None:
    world.write("good.yaml", component("good"))
    (world.catalog / "about.json").write_bytes(content)
    world.write("read.yaml", component("read") + "  extra: {$json: ./about.json}\n")
    outcome = world.sync(store)
    assert outcome.summary is not None  # committed
    list(store.overview().score_changes())  # PostgreSQL's JSON operators too
    assert owner_of(store, "good") == "team-a"
    assert store.entity(ref("read")) is None
    (found,) = [f for f in store.findings() if f.evidence.get("path") == "read.yaml"]
    assert found.code == "invalid-entity"
    assert found.evidence["field"] == "spec.extra"
    assert "lone surrogate" in found.message and "[placeholder]" in found.message
    json.dumps(found.to_json(), ensure_ascii=False).encode()  # the finding itself is UTF-8


def test_a_surrogate_pair_in_a_json_placeholder_is_the_character_it_encodes(
    world: World, store: Store
) -> None:
    (world.catalog / "about.json").write_bytes(b'"shop \\ud83d\\uded2"')
    world.write("read.yaml", component("read", description="{$json: ./about.json}"))
    assert world.sync(store).summary is not None
    stored = store.entity(ref("read"))
    assert stored is not None
    assert stored.assembled.entity["metadata"]["description"] == "shop \U0001f6d2"
