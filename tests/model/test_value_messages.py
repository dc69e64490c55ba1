"""Values in validation messages read as YAML, not as Python: ``null``, never ``None``.

A catalog author wrote YAML; a message that quotes one of their values (or a value
of the kind's schema) shows it as they would write it.
"""

from __future__ import annotations

from typing import Any

import pytest

from trueup.model.emission import CustomKind, EmissionPolicy
from trueup.model.validation import validate_entity
from trueup.sources.descriptors import parse_descriptor_file

TEMPLATE = """\
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: new-service}
spec:
  type: service
  owner: team-a
  steps:
    - id:
      action: fetch:template
"""


def app(spec_schema: dict[str, Any], value: Any) -> list[tuple[str, str]]:
    """The schema violations of an App whose ``spec.value`` is ``value``."""
    schema = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"value": spec_schema}}},
    }
    policy = EmissionPolicy(
        kinds=("App",), custom=(CustomKind("App", frozenset({"acme.io/v1"}), schema),)
    )
    entity = {
        "apiVersion": "acme.io/v1",
        "kind": "App",
        "metadata": {"name": "checkout"},
        "spec": {"value": value},
    }
    return [(v.field, v.message) for v in policy.violations(entity)]


def test_an_empty_yaml_value_is_null_in_a_schema_finding() -> None:
    policy = EmissionPolicy(kinds=("Template",))
    parsed = parse_descriptor_file(
        TEMPLATE.encode(), source="catalog", scope="catalog", path="t.yaml", policy=policy
    )
    assert [f.message for f in parsed.findings] == [
        "t.yaml document 0: spec.steps[0].id: null is not of type 'string' [schema]"
    ]


@pytest.mark.parametrize(
    ("spec_schema", "value", "message"),
    [
        ({"type": "string"}, True, "true is not of type 'string'"),
        ({"type": ["string", "null"]}, False, "false is not of type 'string', 'null'"),
        ({"enum": ["on", True, None]}, False, "false is not one of ['on', true, null]"),
        ({"const": False}, True, "false was expected"),
        (
            {"type": "string"},
            {"a": None, "b": [True]},
            "{'a': null, 'b': [true]} is not of type 'string'",
        ),
        ({"type": "string"}, 1.5, "1.5 is not of type 'string'"),
        ({"enum": ["a"]}, "it's", "'it''s' is not one of ['a']"),
        ({"enum": ["a"]}, "two\nlines", "\"two\\nlines\" is not one of ['a']"),
        ({"maxLength": 1}, "None", "'None' is too long"),
        ({"minimum": 0}, -1, "-1 is less than the minimum of 0"),
    ],
)
def test_schema_messages_show_values_as_yaml(spec_schema: Any, value: Any, message: str) -> None:
    assert app(spec_schema, value) == [("spec.value", message)]


def test_a_long_value_is_cut_short_in_a_schema_message() -> None:
    [(_, message)] = app({"maxLength": 3}, "x" * 100_000)
    assert message == f"'{'x' * 74}...x' is too long"


def test_a_property_name_in_a_schema_message_is_left_as_it_was() -> None:
    assert app({"required": ["True"]}, {}) == [("spec.value", "'True' is a required property")]
    assert app({"additionalProperties": False}, {"None": 1}) == [
        ("spec.value", "Additional properties are not allowed ('None' was unexpected)")
    ]


def test_a_link_url_that_is_no_string_is_shown_as_yaml() -> None:
    entity = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "api", "links": [{"url": True}]},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    }
    [violation] = validate_entity(entity)
    assert violation.message == "link url true is not a valid absolute URL"
