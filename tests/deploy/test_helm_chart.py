"""The Helm chart, checked with Helm's own Go code (lint and render) — not the ``helm`` binary.

``helm`` cannot be installed here; ``helm-python-sdk`` binds Helm's official Go
SDK (v4) as a shared library, so ``lint`` is Helm's lint action (chart
metadata, values against values.schema.json, every template rendered and parsed
as YAML, Kubernetes API versions for a given cluster version) and ``render`` is
Helm's template engine. On top: the rendered manifests are parsed, the
ClusterRole is checked against every kind trueup's collectors read, the probes
against the server's routes, and the rendered trueup.yaml against trueup's own
configuration model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from helm_python import HelmValuesError, chart

from trueup.config import parse_config
from trueup.sources.kubernetes.resources import WORKLOAD_KINDS

CHART = Path(__file__).parents[2] / "deploy" / "helm" / "trueup"
KUBE_VERSION = "v1.30.0"


def render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    loaded = chart.Chart.load(str(CHART))
    try:
        rendered = loaded.render(values, name="trueup", namespace="hub", is_install=True)
    finally:
        loaded.close()
    return [
        document
        for path, text in sorted(rendered.items())
        if path.endswith(".yaml")
        for document in yaml.safe_load_all(text)
        if document
    ]


def by_kind(documents: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in documents if d["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind}"
    return found[0]


def test_helm_lint_finds_nothing_even_strict() -> None:
    report = chart.lint(str(CHART), strict=True, namespace="hub", kube_version=KUBE_VERSION)
    assert report["errors"] == []
    assert report["messages"] == []


def test_the_default_values_match_their_schema_and_bad_values_are_refused() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.validate(values, schema)
    with pytest.raises(HelmValuesError, match="role"):
        render({"role": "everything"})


def test_every_template_renders_to_kubernetes_objects() -> None:
    documents = render(
        {
            "secrets": {"TRUEUP_DATABASE_URL": "postgresql+psycopg://t@pg/t"},
            "metrics": {"serviceMonitor": {"enabled": True, "interval": "15s"}},
        }
    )
    kinds = sorted(d["kind"] for d in documents)
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "Secret",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
    ]
    for document in documents:
        assert document["apiVersion"] and document["metadata"]["name"].startswith("trueup")


def _plural(kind: str) -> str:
    return kind.lower() + ("es" if kind.endswith("s") else "s")


def test_the_cluster_role_reads_every_collected_kind_and_writes_nothing() -> None:
    role = by_kind(render({"rbac": {"crossplaneGroups": ["platform.acme.io"]}}), "ClusterRole")
    granted = {
        (group, resource)
        for rule in role["rules"]
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
    }
    collected = [(group, _plural(kind)) for group, _, kind, _ in WORKLOAD_KINDS] + [
        ("argoproj.io", "applications"),
        ("apiextensions.crossplane.io", "compositeresourcedefinitions"),
        ("platform.acme.io", "*"),
    ]
    assert set(collected) <= granted
    assert all(set(rule["verbs"]) <= {"get", "list", "watch"} for rule in role["rules"])
    assert not any(resource == "secrets" for _, resource in granted)
    assert ("", "*") not in granted and ("*", "*") not in granted


def test_the_deployment_runs_trueup_serve_with_probes_secrets_and_its_service_account() -> None:
    documents = render({"role": "worker", "existingSecret": "trueup-prod"})
    deployment = by_kind(documents, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"][:5] == [
        "serve",
        "--config",
        "/etc/trueup/trueup.yaml",
        "--role",
        "worker",
    ]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    secret_refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
    assert secret_refs == {"trueup-prod"}
    assert {e["name"] for e in container["env"]} >= {"TRUEUP_DATABASE_URL", "TRUEUP_READ_TOKEN"}
    binding = by_kind(documents, "ClusterRoleBinding")
    assert binding["subjects"][0]["name"] == pod["serviceAccountName"]
    assert binding["subjects"][0]["namespace"] == "hub"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics"
    assert pod["terminationGracePeriodSeconds"] > 30  # longer than server.shutdown_timeout
    assert not [d for d in documents if d["kind"] == "Secret"]  # existingSecret: none made


def test_the_rendered_trueup_yaml_is_a_valid_trueup_configuration() -> None:
    configmap = by_kind(render(), "ConfigMap")
    environment = {
        "TRUEUP_DATABASE_URL": "postgresql+psycopg://trueup@postgres/trueup",
        "TRUEUP_READ_TOKEN": "r" * 20,
        "TRUEUP_ADMIN_TOKEN": "a" * 20,
    }
    config = parse_config(configmap["data"]["trueup.yaml"], "trueup.yaml", environment)
    assert config.server.listen == "0.0.0.0:8470"
    assert [t.role for t in config.server.tokens] == ["read", "admin"]
    assert config.sources[0].id == "hub"
    kubeconfig = yaml.safe_load(configmap["data"]["kubeconfig"])
    assert kubeconfig["contexts"][0]["name"] == "hub"
    assert kubeconfig["users"][0]["user"]["tokenFile"].endswith("serviceaccount/token")


def test_the_dockerfile_serves_trueup() -> None:
    dockerfile = (CHART.parents[2] / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["trueup"]' in dockerfile
    assert 'CMD ["serve", "--listen", "0.0.0.0:8470"]' in dockerfile
    assert "--constraint requirements.lock" in dockerfile
    assert "USER 10001" in dockerfile


def test_the_probed_paths_are_routes_of_every_role() -> None:
    from trueup.web.app import routers

    for serving in (True, False):
        paths = {route.path for router in routers(serving=serving) for route in router.routes}  # type: ignore[attr-defined]
        assert {"/healthz", "/readyz", "/metrics"} <= paths
