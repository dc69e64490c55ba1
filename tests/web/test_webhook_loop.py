"""A webhook's body is checked and parsed off the event loop.

GitHub sends push bodies of up to 25 MB: an HMAC over one and its JSON parse
take a noticeable time, while the same loop serves the feed, the API and the
other webhooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import sqlite_only
from tests.scheduler.test_targets import configured, github_push
from tests.web.harness import LoopProbe
from trueup.store import Store
from trueup.web import webhooks
from trueup.web.serve import build_server


@sqlite_only
@pytest.mark.parametrize("slow", ["verify_github", "_json"])
def test_the_event_loop_keeps_answering_while_a_body_is_checked_and_parsed(
    store: Store, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slow: str
) -> None:
    probe = LoopProbe()
    real = getattr(webhooks, slow)

    def as_slow_as_a_large_body(*args: Any, **kwargs: Any) -> Any:
        probe.block()
        return real(*args, **kwargs)

    monkeypatch.setattr(webhooks, slow, as_slow_as_a_large_body)
    server = build_server(configured(db_url, tmp_path / "data"), store, worker_name="test")
    body, headers = github_push()

    response = probe.post(server.app, "/webhooks/github", body, headers)
    assert probe.waited == [True]
    assert response.status_code == 202
