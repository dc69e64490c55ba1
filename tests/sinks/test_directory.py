"""The directory sink writes what changed, removes what left and repairs what was touched."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml

from tests.assemble.builders import NOW, component, group, intent, policy, snapshot, system
from trueup.assemble.assembler import assemble
from trueup.feed import FeedRow, feed_row
from trueup.model.assembled import AssembledEntity
from trueup.sinks.directory import write_directory


def assembled(*names: str) -> list[AssembledEntity]:
    docs = [group("team-a"), system("shop"), *(component(n) for n in names)]
    result = assemble(
        [snapshot("catalog", "catalog", *(intent(d) for d in docs))], policy(), now=NOW
    )
    return list(result.entities.values())


def rows(items: list[AssembledEntity]) -> list[FeedRow]:
    return [row for e in items if (row := feed_row(e)) is not None]


def entities(*names: str) -> list[FeedRow]:
    return rows(assembled(*names))


def test_layout_and_content(tmp_path: Path) -> None:
    report = write_directory(tmp_path, entities("payments"))
    assert (report.written, report.unchanged, report.deleted) == (3, 0, 0)
    doc = yaml.safe_load((tmp_path / "default" / "component" / "payments.yaml").read_text())
    assert doc["metadata"]["name"] == "payments" and doc["spec"]["owner"] == "team-a"


def test_only_changes_are_written_and_leavers_deleted(tmp_path: Path) -> None:
    write_directory(tmp_path, entities("payments", "orders"))
    report = write_directory(tmp_path, entities("payments", "orders"))
    assert (report.written, report.unchanged, report.deleted) == (0, 4, 0)
    report = write_directory(tmp_path, entities("payments"))
    assert (report.written, report.unchanged, report.deleted) == (0, 3, 1)
    assert not (tmp_path / "default" / "component" / "orders.yaml").exists()


def test_a_deleted_file_is_rewritten(tmp_path: Path) -> None:
    write_directory(tmp_path, entities("payments"))
    (tmp_path / "default" / "component" / "payments.yaml").unlink()
    assert write_directory(tmp_path, entities("payments")).written == 1


def test_a_changed_entity_is_rewritten(tmp_path: Path) -> None:
    first = assembled("payments")
    write_directory(tmp_path, rows(first))
    changed = [
        replace(e, entity={**e.entity, "spec": {**e.entity["spec"], "owner": "team-b"}})
        if e.ref.name == "payments"
        else e
        for e in first
    ]
    assert write_directory(tmp_path, rows(changed)).written == 1
    doc = yaml.safe_load((tmp_path / "default" / "component" / "payments.yaml").read_text())
    assert doc["spec"]["owner"] == "team-b"
