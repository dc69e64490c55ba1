"""The demo world's Terraform state, read by the terraform source next to the demo catalog."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from trueup.cli import main
from trueup.model.validation import validate_entity
from trueup.sources.terraform.state import StateFile, parse_state
from trueup.world import write_demo_world
from trueup.world.terraform import DEMO_SECRET, LINEAGE, SERIAL, write_demo_state

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def test_the_demo_state_is_a_valid_v4_state_written_the_same_way_each_time(tmp_path: Path) -> None:
    first = write_demo_state(tmp_path / "a", now=NOW)
    second = write_demo_state(tmp_path / "b", now=NOW)
    assert first == tmp_path / "a/states/payments.tfstate"
    assert first.read_bytes() == second.read_bytes()
    assert first.stat().st_mtime == NOW.timestamp()
    state = parse_state(first.read_bytes())
    assert isinstance(state, StateFile), state
    assert (state.lineage, state.serial) == (LINEAGE, SERIAL)
    assert [i.address for i in state.instances] == [
        "aws_db_instance.payments",
        "random_password.db",
        "aws_sqs_queue.settlements",
        'module.receipts.aws_s3_bucket.this["eu-west-1"]',
        'module.receipts.aws_s3_bucket.this["us-east-1"]',
    ]
    assert state.data_sources == 1
    raw = json.loads(first.read_text(encoding="utf-8"))
    assert raw["outputs"]["db_password"] == {
        "value": DEMO_SECRET,
        "type": "string",
        "sensitive": True,
    }
    assert DEMO_SECRET not in repr(state)


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    world = write_demo_world(tmp_path, now=NOW)
    assert "type: terraform" in world.config.read_text(encoding="utf-8")
    return world.config


def test_the_demo_syncs_terraform_into_the_catalog_without_the_secret(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(demo)
    assert main(["sync", "-c", cfg]) == 0
    capsys.readouterr()
    assert main(["export", "-c", cfg, "--format", "json"]) == 0
    exported = capsys.readouterr().out
    loaded: Any = json.loads(exported)
    items: list[dict[str, Any]] = loaded["items"] if isinstance(loaded, dict) else loaded
    by_name = {e["metadata"]["name"]: e for e in items}
    for entity in items:
        assert validate_entity(entity) == [], entity["metadata"]["name"]

    database = by_name["payments-db"]  # the declared Resource, enriched by Terraform
    notes = database["metadata"]["annotations"]
    assert notes["trueup.io/sources"] == "catalog,infra"
    assert notes["trueup.io/discovered"] == "false"
    assert notes["trueup.io/terraform-address"] == "aws_db_instance.payments"
    assert notes["trueup.io/terraform-engine-version"] == "15.6"
    assert database["spec"]["dependencyOf"] == ["component:default/payments-api"]
    assert database["spec"]["type"] == "database"

    queue = by_name["payments.aws_sqs_queue.settlements"]
    assert queue["spec"]["dependencyOf"] == ["component:default/payments-worker"]
    assert queue["spec"]["system"] == "payments"
    assert queue["spec"]["owner"] == "team-platform"
    buckets = [e for e in items if e["metadata"].get("title", "").startswith("module.receipts.")]
    assert len(buckets) == 2
    assert all(b["spec"]["dependencyOf"] == ["component:default/invoice-service"] for b in buckets)
    assert not any("random_password" in name for name in by_name)  # excluded by type

    assert main(["check", "-c", cfg, "--format", "json", "--fail-on", "never"]) == 0
    checked = capsys.readouterr().out
    assert main(["explain", "resource:payments-db", "-c", cfg, "--format", "json"]) == 0
    explained = capsys.readouterr().out
    conflicts = [f for f in json.loads(explained)["findings"] if f["code"] == "conflict"]
    assert conflicts == []  # the catalog and the state agree on type, owner and system
    for text in (exported, checked, explained, yaml.safe_dump(items)):
        assert DEMO_SECRET not in text
