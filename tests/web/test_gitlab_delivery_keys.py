"""Which GitLab deliveries are one delivery (SPEC 6.4: replays are no-ops).

GitLab's ``Idempotency-Key`` names one delivery and is kept across its retries.
``X-Gitlab-Event-UUID`` does not: GitLab documents that webhooks triggered by a
request that itself came from a webhook ("recursive" ones) all carry the same
value, so two pushes made by one webhook-driven bot share it. Those are two
events; the second must not be dropped as a replay of the first.
"""

from __future__ import annotations

import json

import httpx

from tests.web.harness import GITLAB_TOKEN, World
from trueup.store import Store


def _push(world: World, repository: str) -> bytes:
    path = world.catalog.path if repository == "catalog" else world.other.path
    return json.dumps(
        {
            "object_kind": "push",
            "ref": "refs/heads/main",
            "project": {"path_with_namespace": f"acme/{repository}", "git_http_url": str(path)},
        }
    ).encode()


def _send(base: str, body: bytes, event_uuid: str) -> httpx.Response:
    headers = {
        "X-Gitlab-Event": "Push Hook",
        "X-Gitlab-Token": GITLAB_TOKEN,
        "X-Gitlab-Event-UUID": event_uuid,
    }
    return httpx.post(f"{base}/webhooks/gitlab", content=body, headers=headers, timeout=30)


def test_two_pushes_sharing_an_event_uuid_are_two_deliveries(
    world: World, store: Store, base: str
) -> None:
    shared = "4c9f3c4e-5b7a-4d8e-9f21-0a1b2c3d4e5f"
    first = _send(base, _push(world, "catalog"), shared)
    second = _send(base, _push(world, "other"), shared)
    assert first.status_code == 202
    assert first.json()["jobs"][0]["target"].startswith("catalog/")
    assert second.status_code == 202, second.json()
    assert second.json()["jobs"][0]["target"].startswith("other/")


def test_the_same_push_sent_again_with_its_event_uuid_is_a_replay(
    world: World, store: Store, base: str
) -> None:
    body = _push(world, "catalog")
    assert _send(base, body, "e-1").status_code == 202
    again = _send(base, body, "e-1")
    assert again.status_code == 200 and again.json()["status"] == "replay"
