"""A ``git`` sink in the configuration: ``trueup sync`` keeps the mirror (Sink protocol)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.sinks.git.conftest import Mirror, WorkRepo, hydrate_config
from trueup.pipeline import sync
from trueup.store import Store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_sync_writes_the_configured_mirror_and_a_rerun_commits_nothing(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror
) -> None:
    config = hydrate_config(
        tmp_path / "server", catalog.path, extra=f"sinks:\n  - type: git\n    url: {mirror.url}\n"
    )
    with Store.open(f"sqlite:///{tmp_path / 'trueup.db'}") as store:
        store.upgrade()
        first = sync(config, store, now=lambda: NOW)
        head = mirror.head()
        second = sync(config, store, now=lambda: NOW)

    assert first.exit_code == 0 and first.sink_errors == []
    (report,) = first.sinks
    assert report.sink == f"git sink {mirror.url}@main"
    assert (report.written, report.removed) == (5, 0)
    assert head is not None and len(mirror.files()) == 6
    (again,) = second.sinks
    assert again.written == 0 and again.note == f"up to date at {head[:12]}"
    assert mirror.log() == [head]


def test_a_source_never_read_holds_the_mirror_removals(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror
) -> None:
    sinks = f"sinks:\n  - type: git\n    url: {mirror.url}\n"
    good = hydrate_config(tmp_path / "good", catalog.path, extra=sinks)
    with Store.open(f"sqlite:///{tmp_path / 'a.db'}") as store:
        store.upgrade()
        sync(good, store, now=lambda: NOW)
    pushed = mirror.head()
    broken = hydrate_config(tmp_path / "broken", tmp_path / "gone", extra=sinks)

    with Store.open(f"sqlite:///{tmp_path / 'b.db'}") as store:
        store.upgrade()
        outcome = sync(broken, store, now=lambda: NOW)

    assert outcome.exit_code == 2
    (report,) = outcome.sinks
    assert (report.removed, report.held) == (0, 5)
    assert mirror.head() == pushed
