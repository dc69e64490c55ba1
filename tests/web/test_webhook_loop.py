"""A webhook's body is checked and parsed off the event loop.

GitHub sends push bodies of up to 25 MB: an HMAC over one and its JSON parse
take a noticeable time, while the same loop serves the feed, the API and the
other webhooks.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import sqlite_only
from tests.scheduler.test_targets import configured, github_push
from trueup.store import Store
from trueup.web import webhooks
from trueup.web.serve import build_server

WAIT = 5.0  # seconds a check waits for the loop to answer: it answers in milliseconds


@sqlite_only
@pytest.mark.parametrize("slow", ["verify_github", "_json"])
def test_the_event_loop_keeps_answering_while_a_body_is_checked_and_parsed(
    store: Store, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slow: str
) -> None:
    working, answered = threading.Event(), threading.Event()
    waited: list[bool] = []
    real = getattr(webhooks, slow)

    def as_slow_as_a_large_body(*args: Any, **kwargs: Any) -> Any:
        working.set()
        waited.append(answered.wait(WAIT))
        return real(*args, **kwargs)

    monkeypatch.setattr(webhooks, slow, as_slow_as_a_large_body)
    server = build_server(configured(db_url, tmp_path / "data"), store, worker_name="test")
    body, headers = github_push()

    async def deliver() -> httpx.Response:
        transport = httpx.ASGITransport(app=server.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://trueup.test") as client:
            sent = asyncio.create_task(
                client.post("/webhooks/github", content=body, headers=headers)
            )
            while not working.is_set() and not sent.done():
                await asyncio.sleep(0.001)
            answered.set()  # runs while the check waits only if the loop is free
            return await sent

    response = asyncio.run(deliver())
    assert waited == [True]
    assert response.status_code == 202
