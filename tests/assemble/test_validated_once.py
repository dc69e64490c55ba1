"""A declaration its reader validated is not validated whole again (``Observation.checked``).

The catalog reader validates every document under the emission policy and records
which policy on its observation; when that one declaration gives every field of
the entity but its annotations, the assembler checks only what may be new: the
annotations (its reader's, an actual source's, trueup's) and the links (trueup's
own). Whatever the entity, that must find exactly what validating it whole finds.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.assemble.builders import NOW, deployment, policy, snapshot
from trueup.assemble.assembler import AssemblyPolicy, assemble
from trueup.model.assembled import AssembledEntity
from trueup.model.emission import DEFAULT_POLICY, CustomKind, EmissionPolicy
from trueup.model.observation import Nature, Observation
from trueup.model.ref import EntityRef
from trueup.model.validation import Violation
from trueup.sources.descriptors import read_descriptor_file

PAYMENTS = EntityRef.of("component", None, "payments")
COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments
  annotations:
    backstage.io/kubernetes-id: payments
  links:
    - url: https://trueup.example.com/ui/entities/component/default/payments
      title: Provenance and data quality
    - url: https://grafana.example.com/payments
      title: Dashboard
spec:
  type: service
  lifecycle: production
  owner: team-a
"""


def read(text: str, emission: EmissionPolicy = DEFAULT_POLICY, path: str = "a.yaml") -> Observation:
    """The one observation the catalog reader makes of a file."""
    [observation] = read_descriptor_file(
        text.encode(),
        source="catalog",
        scope="catalog",
        path=path,
        locator_prefix="catalog@abc",
        observed_at=NOW,
        source_location="url:https://git.example.com/catalog/",
        policy=emission,
    ).observations
    return observation


def assembled_both_ways(
    observations: list[Observation], assembly: AssemblyPolicy | None = None
) -> tuple[AssembledEntity, AssembledEntity]:
    """The entity from observations as read, and as if none had been validated by its reader."""
    assembly = assembly or policy()
    made = []
    for checked in (True, False):
        intent = [
            o if checked else replace(o, checked=None)
            for o in observations
            if o.nature is Nature.INTENT
        ]
        actual = [o for o in observations if o.nature is Nature.ACTUAL]
        snapshots = [snapshot("catalog", "catalog", *intent)]
        if actual:
            snapshots.append(snapshot("clusters", "prod-eu", *actual))
        made.append(assemble(snapshots, assembly, now=NOW).entities[PAYMENTS])
    return made[0], made[1]


def invalid(entity: AssembledEntity) -> list[Any]:
    return [f.evidence["violations"] for f in entity.findings if f.code == "invalid-entity"]


def test_the_reader_records_the_policy_it_validated_under_never_stored() -> None:
    observation = read(COMPONENT)
    assert observation.checked == DEFAULT_POLICY.fingerprint
    assert "checked" not in observation.to_json()
    assert Observation.from_json(observation.to_json()).checked is None
    assert Observation.from_json(observation.to_json()) == observation  # not compared


VALIDATED: list[str] = []  # the names of the entities a CountingPolicy validated whole


class CountingPolicy(EmissionPolicy):
    """The default policy, recording each entity it validates whole."""

    def violations(self, entity: Any) -> list[Violation]:
        VALIDATED.append(entity["metadata"]["name"])
        return super().violations(entity)


def test_a_declaration_validated_by_its_reader_is_not_validated_whole_again() -> None:
    VALIDATED.clear()
    counting = CountingPolicy()
    observation = read(COMPONENT, counting)
    assert VALIDATED == ["payments"]  # by the reader
    assembly = replace(policy(), emission=counting)
    entity = assemble([snapshot("catalog", "catalog", observation)], assembly, now=NOW)
    assert entity.entities[PAYMENTS].emitted
    assert VALIDATED == ["payments"]  # not by the assembler
    unchecked = snapshot("catalog", "catalog", replace(observation, checked=None))
    assemble([unchecked], assembly, now=NOW)
    assert VALIDATED == ["payments", "payments"]


def seen(**fields: Any) -> Observation:
    """An actual observation of payments, adding ``fields``."""
    running = deployment("payments")
    return replace(running, fields={**running.fields, **fields})


CASES: dict[str, tuple[list[Observation], AssemblyPolicy]] = {
    "valid, declared alone": ([read(COMPONENT)], policy()),
    "valid, with a running copy": ([read(COMPONENT), seen()], policy()),
    "an actual source's annotation that is no string": (
        [read(COMPONENT), seen(**{"metadata.annotations.example.com/port": 8080})],
        policy(),
    ),
    "an actual source's annotation key that is no key": (
        [read(COMPONENT), seen(**{"metadata.annotations.a/b/c": "x"})],
        policy(),
    ),
    "trueup's link is no URL": ([read(COMPONENT)], policy(public_url="not a url")),
    "no link of trueup's": ([read(COMPONENT)], policy(public_url=None)),
    "an actual source wins the owner with an empty one": (
        [read(COMPONENT), seen(**{"spec.owner": ""})],
        policy({"spec.owner": ["clusters"]}),
    ),
    "an actual source adds a label that is no label": (
        [read(COMPONENT), seen(**{"metadata.labels.tier": "a b"})],
        policy(),
    ),
    "an actual source adds a root field": ([read(COMPONENT), seen(status={"x": 1})], policy()),
    "two declarations": (
        [
            read(COMPONENT),
            read(COMPONENT.replace("owner: team-a", "owner: team-b"), path="b.yaml"),
        ],
        policy(),
    ),
    "validated under a policy that served Components, assembled under one that does not": (
        [read(COMPONENT)],
        replace(policy(), emission=EmissionPolicy(kinds=("Group",))),
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_what_is_found_is_what_validating_the_whole_entity_finds(
    case: tuple[list[Observation], AssemblyPolicy],
) -> None:
    observations, assembly = case
    checked, whole = assembled_both_ways(observations, assembly)
    assert checked == whole
    assert checked.entity == whole.entity
    assert checked.findings == whole.findings


def test_cases_that_break_a_rule_break_it_both_ways() -> None:
    """The cases above are not all valid: each rule they break is found with the shortcut."""
    refused = {
        name
        for name, (observations, assembly) in CASES.items()
        if not assembled_both_ways(observations, assembly)[0].emitted
    }
    assert refused == {
        "an actual source's annotation that is no string",
        "an actual source's annotation key that is no key",
        "trueup's link is no URL",
        "an actual source wins the owner with an empty one",
        "an actual source adds a label that is no label",
        "an actual source adds a root field",
        "validated under a policy that served Components, assembled under one that does not",
    }


def test_a_kind_with_a_schema_is_validated_whole() -> None:
    """A JSON Schema may constrain any part, trueup's annotations too."""
    schema = {
        "type": "object",
        "properties": {
            "metadata": {
                "type": "object",
                "properties": {"annotations": {"type": "object", "maxProperties": 3}},
            }
        },
    }
    thing = CustomKind("Thing", frozenset({"acme.io/v1"}), schema)
    emission = EmissionPolicy(kinds=("Thing",), custom=(thing,))
    text = "apiVersion: acme.io/v1\nkind: Thing\nmetadata:\n  name: payments\n"
    observation = read(text, emission)
    assert observation.checked == emission.fingerprint
    ref = EntityRef.of("thing", None, "payments")
    entity = assemble(
        [snapshot("catalog", "catalog", observation)],
        replace(policy(), emission=emission),
        now=NOW,
    ).entities[ref]
    assert not entity.emitted
    [violations] = invalid(entity)
    assert [v["field"] for v in violations] == ["metadata.annotations"]
