"""Declarative mappings: compiled once, errors named, JMESPath and jq, the documented examples.

The two worked examples of ``docs/mappings.md`` are read from the document
itself and run here; the built-in collectors written as mappings give the same
observations as the collectors.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from tests.sources.kubernetes.builders import (
    application,
    conditions,
    crd,
    crossplane_object,
    deployment,
    healthy_status,
)
from tests.sources.kubernetes.conftest import Clusters
from tests.sources.kubernetes.harness import live_source, read_all, snapshot
from trueup.errors import ConfigError
from trueup.sources.kubernetes.builtin_mappings import builtin_mappings
from trueup.sources.kubernetes.collectors import collect
from trueup.sources.kubernetes.config import MappingConfig
from trueup.sources.kubernetes.mappings import compile_mapping, compile_mappings

AT = datetime(2026, 1, 1, tzinfo=UTC)
DOC = Path(__file__).parents[3] / "docs" / "mappings.md"


def mapping(**fields: Any) -> MappingConfig:
    base = {"apiVersion": "v1", "kind": "ConfigMap", "ref": "metadata.name"}
    return MappingConfig.model_validate(base | fields)


def doc_example(title: str) -> dict[str, Any]:
    """The ``yaml`` block after a heading of docs/mappings.md."""
    text = DOC.read_text()
    section = text[text.index(title) :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    return dict(yaml.safe_load(block.group(1)))


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"ref": "metadata.[name"}, "ref"),
        ({"status": {"health": "status.(("}}, "status.health"),
        (
            {"language": "jq", "ref": ".metadata.name", "fields": {"spec.type": ".a | | .b"}},
            "fields.spec.type",
        ),
        ({"selector": "team in a,b"}, "selector"),
    ],
)
def test_a_bad_expression_or_selector_is_a_config_error_naming_the_mapping(
    fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        compile_mappings([mapping(), mapping(name="broken", **fields)], "hub")
    assert "source 'hub': mappings[1] (broken)" in str(caught.value)
    assert named in str(caught.value)


def test_a_mapping_with_a_set_based_selector_and_both_languages() -> None:
    jmes = compile_mapping(
        mapping(
            selector="tier in (web,api),!legacy",
            fields={"metadata.description": "data.description"},
            status={"replicas": "data.replicas", "enabled": "`true`"},
            links={"acme.io/service": "metadata.labels.service"},
        ),
        "m",
    )
    jq = compile_mapping(
        mapping(language="jq", ref='"resource:" + .metadata.name', status={"n": ".data.n"}),
        "m",
    )
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "ops", "labels": {"tier": "web", "service": "s"}},
        "data": {"description": "hello", "replicas": "1/2", "n": 3},
    }
    assert jmes.applies_to(obj)
    assert not jmes.applies_to({**obj, "metadata": {**obj["metadata"], "labels": {"tier": "db"}}})
    seen = jmes.observe(obj, source="s", scope="c", observed_at=AT)
    assert seen is not None
    assert str(seen.ref) == "component:default/cfg"
    assert seen.fields == {"metadata.description": "hello"}
    assert seen.status == {"replicas": "1/2", "enabled": "True"}
    assert seen.links == (("acme.io/service", "s"),)
    assert seen.place == "c/ops"
    other = jq.observe(obj, source="s", scope="c", observed_at=AT)
    assert other is not None and str(other.ref) == "resource:default/cfg"
    assert other.status == {"n": "3"}
    assert jmes.observe({**obj, "metadata": {}}, source="s", scope="c", observed_at=AT) is None


def test_a_run_time_type_error_gives_an_empty_value_not_a_crash() -> None:
    compiled = compile_mapping(mapping(status={"x": "join(',', data)"}), "m")
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": 5}
    seen = compiled.observe(obj, source="s", scope="c", observed_at=AT)
    assert seen is not None and seen.status == {"x": ""}


def test_doc_example_argo_workflows_template(clusters: Clusters) -> None:
    example = doc_example("Example 1")
    server = clusters.alpha
    server.apply(
        crd("argoproj.io", "WorkflowTemplate", "workflowtemplates", versions=("v1alpha1",))
    )
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {
            "name": "nightly-report",
            "namespace": "data",
            "labels": {"backstage.io/kubernetes-id": "reporting", "team": "data"},
            "annotations": {"workflows.argoproj.io/description": "Builds the nightly report"},
        },
        "spec": {"entrypoint": "main", "templates": [{"name": "main"}, {"name": "upload"}]},
    }
    server.apply(template, {**template, "metadata": {"name": "scratch", "namespace": "data"}})
    source = live_source(clusters, "alpha", collect=[], mappings=[example])
    read = snapshot(read_all(source)["alpha"])
    (seen,) = read.observations
    assert str(seen.ref) == "component:default/nightly-report"
    assert seen.fields["metadata.description"] == "Builds the nightly report"
    assert seen.fields["spec.type"] == "workflow"
    assert seen.status == {"workflow-entrypoint": "main", "workflow-steps": "main,upload"}
    assert seen.links == (("backstage.io/kubernetes-id", "reporting"),)
    labelled = [r for r in server.requests_to("workflowtemplates") if "labelSelector" in r.query]
    assert labelled and labelled[0].query["labelSelector"] == "backstage.io/kubernetes-id"


def test_doc_example_a_custom_crd() -> None:
    example = doc_example("Example 2")
    (compiled,) = compile_mappings([MappingConfig.model_validate(example)], "hub")
    cache: dict[str, Any] = {
        "apiVersion": "cache.acme.io/v1",
        "kind": "RedisCluster",
        "metadata": {"name": "sessions", "namespace": "shop", "generation": 3},
        "spec": {"owner": "team-shop", "shards": 3},
        "status": {"phase": "Running", "observedGeneration": 2, "readyShards": 3},
    }
    seen = compiled.observe(cache, source="s", scope="prod", observed_at=AT)
    assert seen is not None
    assert str(seen.ref) == "resource:shop/sessions"
    assert seen.fields == {"spec.type": "redis", "spec.owner": "team-shop"}
    assert seen.status["redis-shards"] == "3/3"
    assert seen.status["redis-phase"] == ""  # the status is older than the spec: Unknown
    current = {**cache, "status": {**cache["status"], "observedGeneration": 3}}
    again = compiled.observe(current, source="s", scope="prod", observed_at=AT)
    assert again is not None and again.status["redis-phase"] == "Running"


# --- the built-ins as mappings ---------------------------------------------------------------


def _both(obj: dict[str, Any], index: int) -> tuple[Any, Any]:
    compiled = compile_mapping(builtin_mappings()[index], "builtin")
    by_mapping = compiled.observe(obj, source="s", scope="CLUSTER", observed_at=AT)
    (by_collector,) = collect([obj], source="s", scope="CLUSTER", observed_at=AT).observations
    return by_mapping, by_collector


@pytest.mark.parametrize(
    "obj",
    [deployment("api", "shop"), deployment("api", "shop", replicas=0, ready=0)],
    ids=["running", "scaled-to-zero"],
)
def test_the_workload_collector_as_a_mapping(obj: dict[str, Any]) -> None:
    mapped, collected = _both(obj, 0)
    assert mapped.ref == collected.ref and mapped.fields == collected.fields
    assert mapped.status == collected.status and mapped.links == collected.links
    assert mapped.selectors == collected.selectors and mapped.place == collected.place


@pytest.mark.parametrize(
    "status",
    [
        healthy_status(),
        None,
        {"resourceHealthSource": "appTree", "sync": {"revisions": ["a", "b"]}},
    ],
    ids=["healthy", "no-status", "argocd3"],
)
def test_the_argocd_collector_as_a_mapping(status: dict[str, Any] | None) -> None:
    obj = application("shop", status=status, labels={"backstage.io/kubernetes-id": "shop-id"})
    mapped, collected = _both(obj, 1)
    assert mapped.ref == collected.ref and mapped.fields == collected.fields
    assert mapped.links == collected.links and mapped.selectors == collected.selectors
    assert mapped.status == {k: v for k, v in collected.status.items() if k != "argocd-source"}
    assert mapped.place == collected.place == "CLUSTER/in-cluster/shop"


@pytest.mark.parametrize(
    ("destination", "place"),
    [
        ({"name": "prod-eu", "namespace": "shop"}, "CLUSTER/prod-eu/shop"),
        ({"name": "prod-eu", "server": "https://10.0.0.9:6443"}, "CLUSTER/prod-eu"),
        (
            {"server": "https://API.Example.com:6443/k8s", "namespace": "shop"},
            "CLUSTER/api.example.com/shop",
        ),
        ({"server": "https://admin:s3cret@10.0.0.9:6443"}, "CLUSTER/10.0.0.9"),
        ({"server": "https://[fd00::1]:6443", "namespace": "shop"}, "CLUSTER/fd00::1/shop"),
        (
            {"server": "https://kubernetes.default.svc", "namespace": "shop"},
            "CLUSTER/in-cluster/shop",
        ),
        ({"server": "kubernetes.default.svc"}, "CLUSTER/in-cluster"),
        ({"server": "cluster-b", "namespace": "shop"}, "CLUSTER/cluster-b/shop"),
        ({"namespace": "shop"}, "CLUSTER/in-cluster/shop"),
        ({}, "CLUSTER/in-cluster"),
    ],
    ids=[
        "name",
        "name-over-server",
        "server-host",
        "credentials",
        "ipv6",
        "in-cluster-url",
        "in-cluster-bare",
        "not-a-url",
        "no-server",
        "empty",
    ],
)
def test_the_argocd_mapping_places_like_the_collector(
    destination: dict[str, Any], place: str
) -> None:
    obj = application("shop")
    obj["spec"]["destination"] = destination
    mapped, collected = _both(obj, 1)
    assert mapped.place == collected.place == place


@pytest.mark.parametrize(
    ("conds", "generation"),
    [
        (conditions(("Ready", "True"), ("Synced", "False")), None),
        (conditions(("Synced", "True")), None),
        (conditions(("Ready", "True"), ("Synced", "True"), observed=1), 2),
    ],
    ids=["ready", "no-ready", "behind"],
)
def test_the_crossplane_collector_as_a_mapping(conds: list[Any], generation: int | None) -> None:
    from trueup.sources.kubernetes.crossplane import (
        CrossplaneObject,
        CrossplaneRole,
        collect_crossplane,
    )

    obj = crossplane_object(
        "db.example.org/v1alpha1",
        "Database",
        "orders",
        namespace="shop",
        conds=conds,
        generation=generation,
    )
    compiled = compile_mapping(builtin_mappings()[2], "builtin")
    mapped = compiled.observe(obj, source="s", scope="CLUSTER", observed_at=AT)
    collected = collect_crossplane(
        cast(CrossplaneObject, obj),
        CrossplaneRole.CLAIM,
        source="s",
        scope="CLUSTER",
        observed_at=AT,
    )
    assert mapped is not None and collected is not None
    assert mapped.ref == collected.ref and mapped.place == collected.place
    for key in ("crossplane-ready", "crossplane-synced"):
        assert mapped.status[key] == collected.status[key]
