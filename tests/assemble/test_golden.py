"""Golden files pin the assembled output of a small world, field by field.

Regenerate after an intended change with ``TRUEUP_UPDATE_GOLDEN=1 pytest tests/assemble``
and review the diff like code.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from tests.assemble.builders import (
    NOW,
    argo_app,
    catalog_snapshot,
    component,
    deployment,
    group,
    intent,
    policy,
    snapshot,
    system,
)
from trueup.assemble.assembler import ScopeState, assemble
from trueup.model.assembled import AssembledEntity, AssemblyResult, Candidate, FieldOrigin
from trueup.model.observation import Nature, Provenance
from trueup.model.ref import EntityRef

GOLDEN = Path(__file__).parent / "golden"


def _world() -> AssemblyResult:
    payments = component("payments", dependsOn=["resource:payments-db"])
    payments["metadata"]["annotations"] = {"argocd/app-name": "payments-prod"}
    orders = component("orders", owner="team-gone")
    search = component("search", lifecycle="experimental")
    del search["metadata"]["description"]
    catalog = catalog_snapshot(group("team-a"), system("shop"), payments, orders, search)
    other = snapshot(
        "other", "other", intent(component("orders", owner="team-a"), source="other", scope="other")
    )
    eu = snapshot(
        "clusters",
        "prod-eu",
        deployment("payments", replicas="3/3"),
        argo_app("payments-prod", health="Healthy"),
        deployment("orders", replicas="1/2"),
        argo_app("orders", health="Degraded", sync="OutOfSync"),
        deployment("ghost"),
    )
    us = snapshot(
        "clusters",
        "prod-us",
        argo_app("payments-prod", scope="prod-us", age=timedelta(hours=1)),
    )
    scopes = ScopeState(failed={("clusters", "prod-us"): "unreachable: connection reset"})
    return assemble([catalog, other, eu, us], policy(), now=NOW, scopes=scopes)


def _check(name: str, data: object) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    if os.environ.get("TRUEUP_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    if not path.exists():
        pytest.fail(f"{path} is missing: run with TRUEUP_UPDATE_GOLDEN=1 to create it")
    assert json.loads(text) == json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "ref",
    [
        "component:default/payments",
        "component:default/orders",
        "component:default/search",
        "component:default/ghost",
    ],
)
def test_assembled_entity_matches_golden(ref: str) -> None:
    result = _world()
    entity = next(e for r, e in result.entities.items() if str(r) == ref)
    _check(ref.replace(":", "_").replace("/", "_"), entity.to_json())


def test_entity_list_matches_golden() -> None:
    result = _world()
    summary = {
        str(ref): {"emitted": e.emitted, "discovered": e.discovered, "score": e.score}
        for ref, e in result.entities.items()
    }
    _check("entities", summary)


def test_the_stored_form_reads_back_as_the_entity_with_each_provenance_once() -> None:
    entities = list(_world().entities.values())
    assert any(o.losers for e in entities for o in e.origins.values())  # the world has losers
    assert any(e.places for e in entities)  # and places
    for entity in entities:
        stored = json.loads(json.dumps(entity.to_stored()))  # through JSON, as the store keeps it
        assert AssembledEntity.from_json(stored) == entity
        # read back and written again, it is the same text (its document hash does not move)
        assert json.loads(json.dumps(AssembledEntity.from_json(stored).to_stored())) == stored
        # Documents stored before the compact form are read as they were.
        assert AssembledEntity.from_json(json.loads(json.dumps(entity.to_json()))) == entity
        candidates = [c for o in entity.origins.values() for c in (o.winner, *o.losers)]
        distinct = {(c.provenance, c.nature) for c in candidates}
        distinct |= {(p.provenance, Nature.ACTUAL) for p in entity.places}
        assert len(stored["provenances"]) == len(distinct)
        assert len(json.dumps(stored)) < len(json.dumps(entity.to_json()))


def test_a_candidate_read_from_files_keeps_its_references_in_the_stored_form() -> None:
    seen = Provenance("catalog", "catalog", "catalog@abc:a.yaml#0", NOW)
    entity = AssembledEntity(
        ref=EntityRef("component", "default", "payments"),
        entity={"kind": "Component", "metadata": {"description": "from a file"}},
        origins={
            "metadata.description": FieldOrigin(
                Candidate("from a file", Nature.INTENT, seen, ("catalog@abc:docs/d.md",)),
                (Candidate("other", Nature.ACTUAL, seen),),  # one provenance, two natures
            )
        },
        places=(),
        findings=(),
        discovered=False,
        emitted=True,
        score=100,
    )
    stored = json.loads(json.dumps(entity.to_stored()))
    assert stored["fields"]["metadata.description"] == [
        ["from a file", 0, ["catalog@abc:docs/d.md"]],
        ["other", 1],
    ]
    assert AssembledEntity.from_json(stored) == entity
