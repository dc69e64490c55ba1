"""The directory sink writes what changed, removes what left and repairs what was touched."""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from tests.assemble.builders import NOW, component, group, intent, policy, snapshot, system
from trueup.assemble.assembler import assemble
from trueup.feed import FeedRow, feed_row
from trueup.model.assembled import AssembledEntity
from trueup.model.ref import EntityRef
from trueup.sinks.base import Publication
from trueup.sinks.directory import DirectorySink, DirectorySinkConfig, write_directory
from trueup.sinks.directory.sink import JOURNAL, LOCK, MANIFEST, read_commit, read_manifest


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


def publication_of(
    stored: list[FeedRow],
    revised: frozenset[EntityRef] | None,
    asked: list[set[EntityRef]],
    *,
    commit: int | None,
) -> Publication:
    """A publication of store commit ``commit`` over ``stored`` rows that records which
    refs the sink asked for."""

    def rows_of(refs: Collection[EntityRef]) -> list[FeedRow]:
        asked.append(set(refs))
        return [row for row in stored if row.ref in refs]

    return Publication(
        lambda: stored, read_at=NOW, revised=revised, rows_of=rows_of, commit_number=commit
    )


def payments_changed_orders_gone(rows: list[FeedRow]) -> list[FeedRow]:
    """``rows`` after a commit that changed the payments component and removed orders."""
    return [
        replace(row, yaml=row.yaml + "# changed\n", content_hash="changed")
        if row.ref.name == "payments"
        else row
        for row in rows
        if row.ref.name != "orders"
    ]


def sink(path: Path) -> DirectorySink:
    return DirectorySink(DirectorySinkConfig(type="directory", path=str(path)))


def test_after_an_incremental_commit_only_the_revised_entities_are_read_and_written(
    tmp_path: Path,
) -> None:
    first = entities("payments", "orders")
    asked: list[set[EntityRef]] = []
    sink(tmp_path).write(
        publication_of(first, None, asked, commit=1)
    )  # no revised refs: the full pass
    assert asked == []
    payments = EntityRef.of("component", None, "payments")
    orders = EntityRef.of("component", None, "orders")
    changed = payments_changed_orders_gone(first)
    (tmp_path / "default" / "group" / "team-a.yaml").unlink()  # not revised: left alone
    report = sink(tmp_path).write(
        publication_of(changed, frozenset({payments, orders}), asked, commit=2)
    )
    assert asked == [{payments, orders}]
    assert (report.written, report.removed) == (1, 1)
    assert (
        (tmp_path / "default" / "component" / "payments.yaml").read_text().endswith("# changed\n")
    )
    assert not (tmp_path / "default" / "component" / "orders.yaml").exists()
    assert not (tmp_path / "default" / "group" / "team-a.yaml").exists()


def test_a_revised_entity_the_gate_holds_back_loses_its_file(tmp_path: Path) -> None:
    first = entities("payments")
    sink(tmp_path).write(publication_of(first, None, [], commit=1))
    payments = EntityRef.of("component", None, "payments")
    refused = [
        replace(row, ref=EntityRef.of("location", None, "payments")) if row.ref == payments else row
        for row in first
    ]
    target = tmp_path / "default" / "component" / "payments.yaml"
    assert target.exists()
    located = EntityRef.of("location", None, "payments")
    publication = publication_of(refused, frozenset({payments, located}), [], commit=2)
    report = sink(tmp_path).write(publication)
    assert (report.written, report.removed) == (0, 1)
    assert not target.exists()
    assert [f.subject for f in publication.held_back] == ["location:default/payments"]


def test_without_a_manifest_the_full_pass_runs(tmp_path: Path) -> None:
    first = entities("payments")
    payments = EntityRef.of("component", None, "payments")
    report = sink(tmp_path).write(publication_of(first, frozenset({payments}), [], commit=1))
    assert (report.written, report.removed) == (3, 0)  # every entity, not the revised one only


def test_an_update_journals_its_files_and_the_next_full_pass_folds_them(tmp_path: Path) -> None:
    first = entities("payments", "orders")
    sink(tmp_path).write(publication_of(first, None, [], commit=1))
    manifest = (tmp_path / MANIFEST).read_bytes()
    payments = EntityRef.of("component", None, "payments")
    orders = EntityRef.of("component", None, "orders")
    (tmp_path / "default" / "component" / "mine.yaml").write_text("not the sink's\n")
    mine = EntityRef.of("component", None, "mine")
    changed = payments_changed_orders_gone(first)
    report = sink(tmp_path).write(
        publication_of(changed, frozenset({payments, orders, mine}), [], commit=2)
    )
    assert (report.written, report.removed) == (1, 1)
    assert (tmp_path / MANIFEST).read_bytes() == manifest  # not rewritten: journalled
    assert len((tmp_path / JOURNAL).read_text().splitlines()) == 2
    assert (tmp_path / "default" / "component" / "mine.yaml").exists()  # not the sink's file
    known = read_manifest(tmp_path)
    assert known is not None
    assert known["default/component/payments.yaml"] == "changed"
    assert "default/component/orders.yaml" not in known

    # The full pass reads the journal: the journalled file is unchanged, and it folds it.
    passed = write_directory(tmp_path, changed)
    assert (passed.written, passed.unchanged, passed.deleted) == (0, 3, 0)
    assert not (tmp_path / JOURNAL).exists()
    assert read_manifest(tmp_path) == known
    # A file the journal recorded as written is deleted when its entity leaves.
    passed = write_directory(tmp_path, [row for row in changed if row.ref != payments])
    assert passed.deleted == 1
    assert not (tmp_path / "default" / "component" / "payments.yaml").exists()


def test_a_journal_line_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    write_directory(tmp_path, entities("payments"))
    with (tmp_path / JOURNAL).open("a") as journal:
        journal.write('["default/component/x.yaml","h"]\n["default/comp')
    known = read_manifest(tmp_path)
    assert known is not None
    assert known["default/component/x.yaml"] == "h"
    assert len(known) == 4


def test_an_update_that_failed_is_caught_up_by_the_next_write(tmp_path: Path) -> None:
    """A write that failed half-way (disk full, a kill) leaves no file behind for good.

    The store has committed the change; the next sync revises nothing more, so
    the sink itself must know that its last update did not finish.
    """
    first = entities("payments", "orders")
    sink(tmp_path).write(publication_of(first, None, [], commit=1))
    payments = EntityRef.of("component", None, "payments")
    orders = EntityRef.of("component", None, "orders")
    changed = payments_changed_orders_gone(first)
    blocker = tmp_path / "default" / "component" / ".payments.yaml.tmp"
    blocker.mkdir()  # the write of payments fails, as on a full disk
    with pytest.raises(OSError):
        sink(tmp_path).write(publication_of(changed, frozenset({payments, orders}), [], commit=2))
    blocker.rmdir()

    sink(tmp_path).write(publication_of(changed, frozenset(), [], commit=3))  # nothing new revised

    target = tmp_path / "default" / "component" / "payments.yaml"
    assert target.read_text().endswith("# changed\n")
    assert not (tmp_path / "default" / "component" / "orders.yaml").exists()


def test_an_update_runs_only_for_the_commit_after_the_one_last_written(tmp_path: Path) -> None:
    """A commit the sink never wrote (killed before its write) is caught up by a full pass.

    Its revised entities are named by no later publication, so the next write
    compares every file; as does a write whose commit number is not known.
    """
    first = entities("payments", "orders")
    sink(tmp_path).write(publication_of(first, None, [], commit=1))
    assert read_commit(tmp_path) == 1
    changed = payments_changed_orders_gone(first)  # commit 2, never written

    report = sink(tmp_path).write(publication_of(changed, frozenset(), [], commit=3))
    assert (report.written, report.unchanged, report.removed) == (1, 2, 1)
    assert not (tmp_path / "default" / "component" / "orders.yaml").exists()
    assert read_commit(tmp_path) == 3

    payments = EntityRef.of("component", None, "payments")
    report = sink(tmp_path).write(publication_of(changed, frozenset({payments}), [], commit=None))
    assert (report.written, report.unchanged) == (0, 3)  # every file compared
    assert read_commit(tmp_path) is None
    report = sink(tmp_path).write(publication_of(changed, frozenset({payments}), [], commit=5))
    assert report.unchanged == 3
    report = sink(tmp_path).write(publication_of(changed, frozenset({payments}), [], commit=6))
    assert (report.written, report.unchanged) == (1, 0)  # the update: its entity only


def test_an_entry_journalled_after_a_torn_line_is_kept(tmp_path: Path) -> None:
    """A journal line cut short by a crash must not swallow the next update's entry."""
    first = entities("payments")
    sink(tmp_path).write(publication_of(first, None, [], commit=1))
    with (tmp_path / JOURNAL).open("a") as journal:
        journal.write('["default/component/x.yaml","h"]\n["default/comp')  # a crash mid-line
    extra = entities("payments", "orders")
    orders = EntityRef.of("component", None, "orders")
    sink(tmp_path).write(publication_of(extra, frozenset({orders}), [], commit=2))
    target = tmp_path / "default" / "component" / "orders.yaml"
    assert target.exists()

    # orders leaves: the sink wrote its file, so the sink deletes it.
    sink(tmp_path).write(publication_of(first, frozenset({orders}), [], commit=3))
    assert not target.exists()


def test_a_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    # A `trueup sync` beside a server's scheduler: one writes the folder at a time, so
    # neither reads a manifest or journal the other is half-way through.
    out = tmp_path / "out"
    out.mkdir()
    sink = DirectorySink(DirectorySinkConfig(type="directory", path=str(out)))
    done = threading.Event()
    with open(out / LOCK, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # the other writer

        def write() -> None:
            sink.write(publication_of(entities("a", "b"), None, [], commit=1))
            done.set()

        thread = threading.Thread(target=write)
        thread.start()
        assert not done.wait(0.3)
        assert not list(out.rglob("*.yaml"))
        fcntl.flock(held, fcntl.LOCK_UN)
    thread.join(10)
    assert done.is_set() and len(list(out.rglob("*.yaml"))) == len(entities("a", "b"))
