"""A resource instance that gains a NUL character keeps its last good observation.

PostgreSQL stores no NUL, so an instance whose observation would hold one is
refused with a ``nul-character`` finding. Refused is not gone: the instance
keeps the observation of the last state that held it without a NUL (with its
old time, so it turns stale after ``max_age``) as long as the state keeps its
lineage. An instance never read without a NUL, or one of a state with a new
lineage (another state, nothing of the old one is kept), is the finding alone.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.sources.terraform.conftest import LINEAGE, NOW, config
from trueup import pipeline
from trueup.config import Config
from trueup.model.finding import Finding
from trueup.model.observation import Observation
from trueup.sources.terraform import TerraformSource
from trueup.store import Store

LATER = NOW + timedelta(hours=1)
OTHER_LINEAGE = "0c3d8a8e-2f9a-4b7e-a1c4-7d0e5f6a9b21"


def _state(serial: int, engine: str, *, lineage: str = LINEAGE) -> dict[str, Any]:
    def resource(name: str, engine: str) -> dict[str, Any]:
        return {
            "mode": "managed",
            "type": "aws_db_instance",
            "name": name,
            "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
            "instances": [{"attributes": {"id": name, "engine": engine}}],
        }

    return {
        "version": 4,
        "terraform_version": "1.9.0",
        "serial": serial,
        "lineage": lineage,
        "outputs": {},
        "resources": [resource("main", "postgres"), resource("odd", engine)],
    }


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

    def refusals(self) -> list[Finding]:
        return [f for f in self.store.findings() if f.evidence.get("rule") == "nul-character"]


def test_an_instance_that_gains_a_nul_keeps_its_last_good_observation(
    tmp_path: Path, store: Store
) -> None:
    world = World(tmp_path, store)
    world.sync(_state(1, "postgres"), NOW)
    (before,) = world.odd()

    outcome = world.sync(_state(2, "post\0gres"), LATER)
    assert outcome.summary is not None  # committed, on PostgreSQL too

    # the observation of the last good state, as it was: its fields and its time
    assert world.odd() == [before]
    assert before.provenance.observed_at == NOW
    odd = store.entity(before.ref)
    assert odd is not None and not odd.removed
    annotations = odd.assembled.entity["metadata"]["annotations"]
    assert annotations["trueup.io/terraform-engine"] == "postgres"
    (found,) = world.refusals()
    assert found.evidence["field"] == "metadata.annotations.trueup.io/terraform-engine"
    assert found.evidence["locator"] == f"state {LINEAGE}/2:aws_db_instance.odd"
    assert found.evidence["kept"] == before.provenance.locator
    assert "aws_db_instance.odd" in found.message and "\0" not in found.message
    assert "last good observation" in found.message and "kept" in found.message

    world.sync(_state(3, "post\0gres"), LATER + timedelta(hours=1))  # still refused: it stays
    assert world.odd() == [before]

    world.sync(_state(4, "mysql"), LATER + timedelta(hours=2))  # fixed: read again
    (after,) = world.odd()
    assert after.fields["metadata.annotations.trueup.io/terraform-engine"] == "mysql"
    assert world.refusals() == []


def test_an_instance_never_read_without_a_nul_is_a_finding_only(
    tmp_path: Path, store: Store
) -> None:
    world = World(tmp_path, store)
    world.sync(_state(1, "post\0gres"), NOW)
    assert world.odd() == []
    (found,) = world.refusals()
    assert "kept" not in found.evidence and "last good" not in found.message


def test_a_new_lineage_keeps_nothing_of_the_old_state(tmp_path: Path, store: Store) -> None:
    world = World(tmp_path, store)
    world.sync(_state(1, "postgres"), NOW)
    world.sync(_state(1, "post\0gres", lineage=OTHER_LINEAGE), LATER)
    assert world.odd() == []  # held by the removal guard, not carried into the new state
    (found,) = world.refusals()
    assert "kept" not in found.evidence
