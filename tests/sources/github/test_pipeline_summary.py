"""The GitHub source through the real pipeline and store: its rate-limit budget is reported."""

from __future__ import annotations

from pathlib import Path

from tests.sources.github.conftest import Harness
from tests.sources.github.fake_api import FakeClock, FakeGitHub
from trueup.config import Config
from trueup.pipeline import sync
from trueup.store import Store


def test_a_sync_reports_the_rate_limit_and_what_a_no_change_read_cost(
    acme: FakeGitHub, clock: FakeClock, tmp_path: Path, store: Store
) -> None:
    h = Harness(acme, clock, tmp_path)
    config = Config.model_validate({"sources": [h.settings]})
    first = sync(config, store, now=h.now, sources=[h.source])
    assert first.exit_code == 0 and len(first.snapshots) == 3
    second = sync(config, store, now=h.now, sources=[h.source])
    note = second.notes["gh"]
    assert "requests left" in note and "0 counted against the limit" in note
    assert store.runs()[0].summary["notes"] == {"gh": note}
    assert str(h.settings["token"]) not in note
