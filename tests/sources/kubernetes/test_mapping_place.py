"""A mapping's ``place`` always names the cluster it was read in (SPEC 5.2, docs/mappings.md).

An expression sees only the object, never which cluster holds it: its result
is where the status was seen *inside* the cluster, and the place is
``<cluster>/<result>``, as the built-in collectors name theirs. Two clusters'
objects never share a place label, so each status is shown under its own.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.assemble.builders import NOW, policy
from trueup.assemble.assembler import assemble
from trueup.model.observation import Nature, Snapshot
from trueup.model.ref import parse_ref
from trueup.sources.kubernetes.config import MappingConfig
from trueup.sources.kubernetes.mappings import compile_mapping

AT = NOW - timedelta(minutes=1)


def _cache(phase: str) -> dict[str, Any]:
    return {
        "apiVersion": "cache.acme.io/v1",
        "kind": "RedisCluster",
        "metadata": {"name": "sessions", "namespace": "shop", "resourceVersion": "4"},
        "status": {"phase": phase},
    }


def _mapping(place: str | None, language: str = "jmespath") -> Any:
    fields: dict[str, Any] = {
        "apiVersion": "cache.acme.io/v1",
        "kind": "RedisCluster",
        "language": language,
        "entity_kind": "resource",
        "ref": "metadata.name" if language == "jmespath" else ".metadata.name",
        "status": {"redis-phase": "status.phase" if language == "jmespath" else ".status.phase"},
    }
    if place is not None:
        fields["place"] = place
    return compile_mapping(MappingConfig.model_validate(fields), "m")


def test_a_place_expression_is_read_inside_the_cluster_it_was_seen_in() -> None:
    compiled = _mapping("join('/', [metadata.namespace, 'redis'])")
    seen = {
        scope: compiled.observe(_cache("Running"), source="hub", scope=scope, observed_at=AT)
        for scope in ("prod-eu", "prod-us")
    }
    assert {scope: o.place for scope, o in seen.items() if o is not None} == {
        "prod-eu": "prod-eu/shop/redis",
        "prod-us": "prod-us/shop/redis",
    }


def test_a_jq_place_and_the_default_place_name_the_cluster_too() -> None:
    jq = _mapping('.metadata.namespace + "/" + .metadata.name', language="jq")
    seen = jq.observe(_cache("Running"), source="hub", scope="prod-eu", observed_at=AT)
    assert seen is not None and seen.place == "prod-eu/shop/sessions"
    default = _mapping(None).observe(
        _cache("Running"), source="hub", scope="prod-eu", observed_at=AT
    )
    assert default is not None and default.place == "prod-eu/shop"
    empty = _mapping("metadata.missing").observe(
        _cache("Running"), source="hub", scope="prod-eu", observed_at=AT
    )
    assert empty is not None and empty.place == "prod-eu/shop"  # no result: the default


def test_two_clusters_keep_their_own_place_labels_once_assembled() -> None:
    compiled = _mapping("metadata.namespace")
    reads = []
    for scope, phase in (("prod-eu", "Running"), ("prod-us", "Failed")):
        seen = compiled.observe(_cache(phase), source="clusters", scope=scope, observed_at=AT)
        assert seen is not None
        reads.append(Snapshot("clusters", scope, Nature.ACTUAL, NOW, (seen,)))
    entity = assemble(reads, policy(), now=NOW).entities[parse_ref("resource:sessions")]
    assert sorted((p.place, p.value) for p in entity.places) == [
        ("prod-eu/shop", "Running"),
        ("prod-us/shop", "Failed"),
    ]
