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
    component,
    deployment,
    group,
    intent,
    policy,
    snapshot,
    system,
)
from trueup.assemble.assembler import ScopeState, assemble
from trueup.model.assembled import AssemblyResult

GOLDEN = Path(__file__).parent / "golden"


def _world() -> AssemblyResult:
    payments = component("payments", dependsOn=["resource:payments-db"])
    payments["metadata"]["annotations"] = {"argocd/app-name": "payments-prod"}
    orders = component("orders", owner="team-gone")
    search = component("search", lifecycle="experimental")
    del search["metadata"]["description"]
    catalog = snapshot(
        "catalog",
        "catalog",
        *[
            intent(doc, path=f"{i}.yaml")
            for i, doc in enumerate([group("team-a"), system("shop"), payments, orders, search])
        ],
    )
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
