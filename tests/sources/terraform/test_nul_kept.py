"""A resource instance that gains a NUL or a lone surrogate keeps its last good observation.

PostgreSQL stores no NUL, and no store takes a lone surrogate (JSON's
``"\\ud800"``, which UTF-8 cannot encode), so an instance whose observation
would hold one is refused with a ``nul-character`` or ``lone-surrogate``
finding. Refused is not gone: the instance keeps the observation of the last
state that held it storable (with its old time, so it turns stale after
``max_age``) as long as the state keeps its lineage. An instance never read
storable, or one of a state with a new lineage (another state, nothing of the
old one is kept), is the finding alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.sources.terraform.conftest import LINEAGE, NOW, config, two_databases
from trueup import pipeline
from trueup.config import Config
from trueup.model.finding import Finding
from trueup.model.observation import Observation
from trueup.sources.terraform import TerraformSource
from trueup.store import Store

LATER = NOW + timedelta(hours=1)
OTHER_LINEAGE = "0c3d8a8e-2f9a-4b7e-a1c4-7d0e5f6a9b21"


@dataclass(frozen=True)
class Flaw:
    engine: str  # an engine attribute that makes the observation unstorable
    rule: str  # the rule its finding names


@pytest.fixture(
    params=[Flaw("post\0gres", "nul-character"), Flaw("post\udc80gres", "lone-surrogate")],
    ids=["nul", "surrogate"],
)
def flaw(request: pytest.FixtureRequest) -> Flaw:
    return request.param  # type: ignore[no-any-return]


class World:
    def __init__(self, tmp_path: Path, store: Store) -> None:
        self.path = tmp_path / "prod.tfstate"
        self.config = config(str(self.path))
        self.source = TerraformSource(self.config)
        self.store = store

    def sync(self, state: dict[str, Any], now: Any) -> pipeline.SyncOutcome:
        self.path.write_text(json.dumps(state))
        return pipeline.sync(
            Config(sources=[self.config]), self.store, now=lambda: now, sources=[self.source]
        )

    def odd(self) -> list[Observation]:
        snapshot = self.store.snapshots()[("infra", "prod")]
        return [o for o in snapshot.observations if o.provenance.locator.endswith(".odd")]

    def refusals(self, flaw: Flaw) -> list[Finding]:
        return [f for f in self.store.findings() if f.evidence.get("rule") == flaw.rule]


def test_an_instance_that_gains_a_nul_or_surrogate_keeps_its_last_good_observation(
    tmp_path: Path, store: Store, flaw: Flaw
) -> None:
    world = World(tmp_path, store)
    world.sync(two_databases(1, "postgres"), NOW)
    (before,) = world.odd()

    outcome = world.sync(two_databases(2, flaw.engine), LATER)
    assert outcome.summary is not None  # committed, on PostgreSQL too

    # the observation of the last good state, as it was: its fields and its time
    assert world.odd() == [before]
    assert before.provenance.observed_at == NOW
    odd = store.entity(before.ref)
    assert odd is not None and not odd.removed
    annotations = odd.assembled.entity["metadata"]["annotations"]
    assert annotations["trueup.io/terraform-engine"] == "postgres"
    (found,) = world.refusals(flaw)
    assert found.evidence["field"] == "metadata.annotations.trueup.io/terraform-engine"
    assert found.evidence["locator"] == f"state {LINEAGE}/2:aws_db_instance.odd"
    assert found.evidence["kept"] == before.provenance.locator
    assert "aws_db_instance.odd" in found.message and "\0" not in found.message
    found.message.encode()  # no surrogate either
    assert "last good observation" in found.message and "kept" in found.message

    world.sync(two_databases(3, flaw.engine), LATER + timedelta(hours=1))  # still refused: it stays
    assert world.odd() == [before]

    world.sync(two_databases(4, "mysql"), LATER + timedelta(hours=2))  # fixed: read again
    (after,) = world.odd()
    assert after.fields["metadata.annotations.trueup.io/terraform-engine"] == "mysql"
    assert world.refusals(flaw) == []


def test_an_instance_never_read_storable_is_a_finding_only(
    tmp_path: Path, store: Store, flaw: Flaw
) -> None:
    world = World(tmp_path, store)
    world.sync(two_databases(1, flaw.engine), NOW)
    assert world.odd() == []
    (found,) = world.refusals(flaw)
    assert "kept" not in found.evidence and "last good" not in found.message


def test_a_new_lineage_keeps_nothing_of_the_old_state(
    tmp_path: Path, store: Store, flaw: Flaw
) -> None:
    world = World(tmp_path, store)
    world.sync(two_databases(1, "postgres"), NOW)
    world.sync(two_databases(1, flaw.engine, lineage=OTHER_LINEAGE), LATER)
    assert world.odd() == []  # held by the removal guard, not carried into the new state
    (found,) = world.refusals(flaw)
    assert "kept" not in found.evidence
