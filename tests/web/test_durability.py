"""Nothing is lost across restarts and crashes (research test plan rows 5 and 12).

``trueup serve`` runs as a child process; ``TRUEUP_CRASHPOINT`` kills it with
SIGKILL at a named point. Never "2xx and lost": either no answer was sent (the
sender redelivers and that delivery is processed), or the job was durable
before the answer (it runs after the restart).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.web.harness import GITHUB_SECRET, ServeProcess, World, free_port
from trueup.crashpoint import AFTER_RECORD, AFTER_VERIFY, ENV
from trueup.model.ref import EntityRef
from trueup.store import Store
from trueup.web.signatures import sign_github

SHIPPING = EntityRef("component", "default", "shipping")


def _push(world: World, url: str, delivery: str) -> httpx.Response:
    body = json.dumps(
        {"ref": "refs/heads/main", "repository": {"clone_url": str(world.catalog.path)}}
    ).encode()
    return httpx.post(
        f"{url}/webhooks/github",
        content=body,
        headers={
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sign_github(GITHUB_SECRET.encode(), body),
        },
        timeout=30,
    )


def _wait_for_shipping(store: Store, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while store.entity(SHIPPING) is None:
        assert time.monotonic() < deadline, "the pushed change never arrived"
        time.sleep(0.1)


def _serve(world: World, tmp_path: Path, **env: str) -> ServeProcess:
    process = ServeProcess(world.config_path, free_port(), env=env, log=tmp_path / "serve.log")
    process.wait_ready()
    return process


def test_a_replay_is_remembered_across_a_restart(
    world: World, store: Store, tmp_path: Path
) -> None:
    with _serve(world, tmp_path) as first:
        assert _push(world, first.url, "once").status_code == 202
        assert first.stop()  # SIGTERM: a graceful stop
    with _serve(world, tmp_path) as second:
        again = _push(world, second.url, "once")
        assert again.status_code == 200 and again.json()["status"] == "replay"
        assert second.stop()


def test_a_crash_between_verification_and_the_durable_record_answers_nothing(
    world: World, store: Store, tmp_path: Path
) -> None:
    world.add_shipping()
    with _serve(world, tmp_path, **{ENV: AFTER_VERIFY}) as crashing:
        with pytest.raises(httpx.TransportError):
            _push(world, crashing.url, "lost-in-flight")
        crashing.process.wait(timeout=10)
    assert store.operations().deliveries() == []
    with _serve(world, tmp_path) as restarted:
        redelivered = _push(world, restarted.url, "lost-in-flight")
        assert redelivered.status_code == 202  # not a replay: it was never recorded
        _wait_for_shipping(store)
        assert restarted.stop()


def test_a_crash_after_the_durable_record_still_runs_the_job(
    world: World, store: Store, tmp_path: Path
) -> None:
    world.add_shipping()
    with _serve(world, tmp_path, **{ENV: AFTER_RECORD}) as crashing:
        with pytest.raises(httpx.TransportError):
            _push(world, crashing.url, "recorded")
        crashing.process.wait(timeout=10)
    assert [d.delivery_id for d in store.operations().deliveries()] == ["github:recorded"]
    with _serve(world, tmp_path) as restarted:
        _wait_for_shipping(store)
        assert _push(world, restarted.url, "recorded").json()["status"] == "replay"
        assert restarted.stop()
    revisions = store.revisions(SHIPPING)
    assert [r.change for r in revisions] == ["created"]
