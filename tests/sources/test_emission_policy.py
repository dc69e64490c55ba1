"""The emission policy at the descriptor: what is a Backstage entity, and what may be served.

Documents that are no Backstage entity are counted per file and ignored; a kind
outside ``backstage.kinds`` is an ``unsupported-kind`` finding and never an
observation; Templates and custom kinds opt in and are checked by their schema;
a kind and apiVersion no Backstage processor recognises is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trueup.backstage_config import BackstageConfig, emission_policy
from trueup.errors import ConfigError
from trueup.model.emission import CustomKind, EmissionPolicy, SchemaError
from trueup.model.finding import Severity
from trueup.sources.descriptors import parse_descriptor_file

K8S = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: payments}
spec: {replicas: 2}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-labels}
---
openapi: 3.0.0
---
- a list, as in an Ansible play
---
just a string
"""

COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: payments, description: Takes the money}
spec: {type: service, lifecycle: production, owner: team-a}
"""

TEMPLATE = """\
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: new-service}
spec:
  type: service
  owner: team-a
  steps: [{id: fetch, action: fetch:template}]
"""

APP = """\
apiVersion: acme.io/v1
kind: App
metadata: {name: checkout}
spec: {tier: gold}
"""

APP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["spec"],
    "properties": {"spec": {"properties": {"tier": {"enum": ["gold", "silver"]}}}},
}


def parse(text: str, policy: EmissionPolicy | None = None) -> Any:
    return parse_descriptor_file(
        text.encode(),
        source="catalog",
        scope="catalog",
        path="a.yaml",
        policy=policy or EmissionPolicy(),
    )


def test_documents_that_are_no_backstage_entity_are_counted_not_findings() -> None:
    parsed = parse(K8S + "---\n" + COMPONENT)
    assert parsed.ignored == 5
    assert parsed.findings == ()
    assert parsed.ok
    assert [str(d.ref) for d in parsed.documents] == ["component:default/payments"]


def test_a_kind_backstage_knows_without_an_api_version_is_a_broken_entity() -> None:
    parsed = parse("kind: Component\nmetadata: {name: x}\n")
    (problem,) = parsed.findings
    assert (problem.code, problem.evidence["field"]) == ("invalid-entity", "apiVersion")


def test_a_template_is_unsupported_until_it_is_opted_in() -> None:
    parsed = parse(TEMPLATE)
    assert parsed.documents == ()
    (problem,) = parsed.findings
    assert (problem.code, problem.severity) == ("unsupported-kind", Severity.WARNING)
    assert problem.evidence["entity"] == "Template:default/new-service"
    assert "not in backstage.kinds" in problem.message

    allowed = EmissionPolicy(kinds=("Component", "Template"))
    assert [str(d.ref) for d in parse(TEMPLATE, allowed).documents] == [
        "template:default/new-service"
    ]
    broken = parse(TEMPLATE.replace("action: fetch:template", "name: x"), allowed)
    (problem,) = broken.findings
    assert (problem.code, problem.evidence["rule"]) == ("invalid-entity", "schema")
    assert problem.evidence["field"] == "spec.steps[0]"


def test_a_custom_kind_is_read_by_its_api_version_and_checked_by_its_schema() -> None:
    assert parse(APP).ignored == 1  # acme.io is no Backstage group: not an entity at all
    app = CustomKind("App", frozenset({"acme.io/v1"}), APP_SCHEMA)
    policy = EmissionPolicy(kinds=("Component", "App"), custom=(app,))
    assert [str(d.ref) for d in parse(APP, policy).documents] == ["app:default/checkout"]
    (problem,) = parse(APP.replace("gold", "plastic"), policy).findings
    assert (problem.code, problem.evidence["field"]) == ("invalid-entity", "spec.tier")
    known_but_off = EmissionPolicy(kinds=("Component",), custom=(app,))
    assert parse(APP, known_but_off).findings[0].code == "unsupported-kind"


def test_a_kind_and_api_version_no_processor_recognises_is_refused() -> None:
    parsed = parse(COMPONENT.replace("backstage.io/v1alpha1", "backstage.io/v2"))
    (problem,) = parsed.findings
    assert (problem.code, problem.evidence["rule"]) == ("invalid-entity", "unrecognised")
    assert "backstage.io/v1alpha1, backstage.io/v1beta1" in problem.message


def test_a_custom_kind_with_an_invalid_schema_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaError):
        CustomKind("App", frozenset({"acme.io/v1"}), {"type": 12})
    schema = tmp_path / "app.json"
    schema.write_text('{"type": 12}')
    config = BackstageConfig.model_validate(
        {
            "kinds": ["Component", "App"],
            "custom_kinds": [
                {"kind": "App", "api_versions": ["acme.io/v1"], "schema": str(schema)}
            ],
        }
    )
    with pytest.raises(ConfigError, match="custom_kinds: custom kind App"):
        emission_policy(config)
    schema.unlink()
    with pytest.raises(ConfigError, match="cannot be read"):
        emission_policy(config)


@pytest.mark.parametrize(
    ("kinds", "message"),
    [
        (["Component", "Location"], "Location entities are followed"),
        (["Component", "Widget"], "needs a custom_kinds entry"),
    ],
)
def test_kinds_the_policy_cannot_serve_are_configuration_errors(
    kinds: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        BackstageConfig.model_validate({"kinds": kinds})


def test_the_default_policy_is_the_built_in_kinds_and_generated_catalog_sizes() -> None:
    config = BackstageConfig()
    assert config.kinds == ["Component", "API", "Resource", "System", "Domain", "Group", "User"]
    policy = emission_policy(config)
    assert policy.max_file_bytes == 64 * 1024 * 1024
    assert not policy.allows("Template") and policy.allows("api")
