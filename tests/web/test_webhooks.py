"""Webhooks over real HTTP (SPEC 6.4; research anchors-reliability.md §1, test plan rows 1-12).

GitHub's documented test vector verifies through the whole stack; wrong,
legacy, malformed and duplicated signatures are refused; replays are no-ops;
oversized and slow bodies are cut off; a push refreshes only the repository it
names, by reading git.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.web.harness import ARGOCD_TOKEN, GITHUB_OLD_SECRET, GITHUB_SECRET, GITLAB_TOKEN, World
from trueup.errors import ConfigError
from trueup.model.ref import EntityRef
from trueup.server_config import ServerConfig
from trueup.store import Store
from trueup.web.serve import Server
from trueup.web.signatures import sign_github

VECTOR_BODY = b"Hello, World!"
VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def github(
    base: str, body: bytes, *, event: str = "push", delivery: str = "d-1", **headers: str
) -> httpx.Response:
    sent = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, **headers}
    if "X-Hub-Signature-256" not in sent and "skip_signature" not in headers:
        sent["X-Hub-Signature-256"] = sign_github(GITHUB_SECRET.encode(), body)
    sent.pop("skip_signature", None)
    return httpx.post(f"{base}/webhooks/github", content=body, headers=sent, timeout=30)


def push(world: World, repository: str = "catalog", ref: str = "refs/heads/main") -> bytes:
    path = world.catalog.path if repository == "catalog" else world.other.path
    return json.dumps(
        {
            "ref": ref,
            "before": "0" * 40,
            "after": "1" * 40,  # a claim, never read as state
            "repository": {"full_name": f"acme/{repository}", "clone_url": str(path)},
        }
    ).encode()


def runs_by(store: Store, prefix: str) -> list[str]:
    return [r.trigger for r in store.runs(limit=100) if r.trigger.startswith(prefix)]


def wait_for(predicate: object, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_githubs_documented_test_vector_verifies_through_the_http_stack(base: str) -> None:
    answer = httpx.post(
        f"{base}/webhooks/github",
        content=VECTOR_BODY,
        headers={
            "X-GitHub-Event": "ping",
            "X-GitHub-Delivery": "vector",
            "X-Hub-Signature-256": VECTOR_SIGNATURE,
        },
    )
    assert answer.status_code == 200
    assert answer.json() == {"status": "ignored", "reason": "event ping is not acted on"}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"X-Hub-Signature-256": VECTOR_SIGNATURE[:-1] + "6"}, "does not match"),
        ({"X-Hub-Signature-256": sign_github(b"another secret", VECTOR_BODY)}, "does not match"),
        ({"X-Hub-Signature-256": VECTOR_SIGNATURE[:-1]}, "not of the form"),
        ({"X-Hub-Signature-256": "sha256=" + "z" * 64}, "not of the form"),
        ({"X-Hub-Signature-256": "sha1=" + "a" * 40}, "not of the form"),
        ({"X-Hub-Signature": "sha1=" + "a" * 40}, "HMAC-SHA1"),
        ({}, "is missing"),
    ],
)
def test_wrong_legacy_and_malformed_signatures_are_refused(
    base: str, store: Store, headers: dict[str, str], reason: str
) -> None:
    sent = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "bad", **headers}
    answer = httpx.post(f"{base}/webhooks/github", content=VECTOR_BODY, headers=sent)
    assert answer.status_code == 401
    assert reason in answer.json()["detail"]
    assert "Traceback" not in answer.text
    assert store.operations().deliveries() == []  # nothing recorded, nothing queued


def test_a_signature_header_sent_twice_is_refused(base: str) -> None:
    headers = [
        ("X-GitHub-Event", "ping"),
        ("X-GitHub-Delivery", "twice"),
        ("X-Hub-Signature-256", VECTOR_SIGNATURE),
        ("X-Hub-Signature-256", VECTOR_SIGNATURE),
    ]
    answer = httpx.post(f"{base}/webhooks/github", content=VECTOR_BODY, headers=headers)
    assert answer.status_code == 401
    assert "more than once" in answer.json()["detail"]


def test_the_previous_secret_verifies_during_a_rotation(base: str) -> None:
    signature = sign_github(GITHUB_OLD_SECRET.encode(), VECTOR_BODY)
    answer = github(base, VECTOR_BODY, event="ping", **{"X-Hub-Signature-256": signature})
    assert answer.status_code == 200


def test_a_push_refreshes_only_the_repository_it_names_by_reading_git(
    world: World, store: Store, base: str
) -> None:
    world.add_shipping()
    answer = github(base, push(world), delivery="push-1")
    assert answer.status_code == 202
    assert answer.json()["jobs"][0]["target"].startswith("catalog/")
    wait_for(lambda: runs_by(store, "webhook github"), "the push was never synced")
    wait_for(lambda: store.entity(EntityRef("component", "default", "shipping")), "no shipping")
    webhook_runs = [r for r in store.runs(limit=50) if r.trigger.startswith("webhook")]
    assert [r.sources for r in webhook_runs] == [("catalog",)]
    assert webhook_runs[0].trigger.startswith("webhook github acme/catalog")


def test_a_body_with_escapes_emoji_and_odd_key_order_verifies_over_its_raw_bytes(
    world: World, base: str
) -> None:
    raw = (
        '{"zeta": "\\u001B", "ref": "refs/heads/main", "emoji": "🚀 é",'
        f' "repository": {{"clone_url": "{world.catalog.path}", "full_name": "acme/catalog"}}}}'
    ).encode()
    answer = github(base, raw, delivery="unicode")
    assert answer.status_code == 202


def test_a_replay_is_a_no_op_with_one_job(world: World, store: Store, base: str) -> None:
    first = github(base, push(world), delivery="same")
    second = github(base, push(world), delivery="same")
    assert first.status_code == 202
    assert second.status_code == 200 and second.json()["status"] == "replay"
    delivered = [d for d in store.operations().deliveries() if d.delivery_id == "github:same"]
    assert len(delivered) == 1


def test_ping_unknown_events_and_unknown_repositories_are_acknowledged_and_ignored(
    world: World, store: Store, base: str
) -> None:
    assert github(base, b"{}", event="ping", delivery="p").status_code == 200
    assert github(base, b"{}", event="issues", delivery="i").json()["status"] == "ignored"
    unknown = json.dumps(
        {"ref": "refs/heads/main", "repository": {"full_name": "acme/unknown"}}
    ).encode()
    answer = github(base, unknown, delivery="u")
    assert answer.status_code == 200
    assert "no source reads acme/unknown" in answer.json()["reason"]
    other_branch = github(base, push(world, ref="refs/heads/feature"), delivery="b")
    assert other_branch.json()["status"] == "ignored"
    assert runs_by(store, "webhook") == []


def test_a_declared_oversized_body_is_refused_before_it_is_read(base: str) -> None:
    """A Content-Length over 25 MB is answered 413 at once: the body never comes."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\n"
            b"X-GitHub-Delivery: big\r\nContent-Length: 26214401\r\n\r\n{}"
        )
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"


def test_a_streamed_body_over_the_cap_is_cut_off(base: str) -> None:
    def chunks() -> Iterator[bytes]:
        block = b"x" * (1024 * 1024)
        for _ in range(26):
            yield block

    try:
        answer = httpx.post(
            f"{base}/webhooks/github",
            content=chunks(),
            headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": "stream"},
            timeout=60,
        )
    except httpx.HTTPError:  # the server may close the connection mid-upload: refused too
        return
    assert answer.status_code == 413


def test_a_slow_body_times_out_while_other_requests_are_served(world: World, store: Store) -> None:
    from tests.web.harness import serving

    with serving(world.config, store, body_deadline=1.0) as (url, _):

        def trickle() -> Iterator[bytes]:
            for _ in range(30):
                yield b" "
                time.sleep(0.2)

        outcome: dict[str, object] = {}

        def slow() -> None:
            try:
                outcome["answer"] = httpx.post(
                    f"{url}/webhooks/github",
                    content=trickle(),
                    headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": "slow"},
                    timeout=30,
                ).status_code
            except httpx.HTTPError as exc:
                outcome["answer"] = type(exc).__name__

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.3)
        started = time.monotonic()
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert time.monotonic() - started < 1.0
        thread.join(timeout=30)
        assert outcome["answer"] in (408, "RemoteProtocolError", "WriteError", "ReadError")


def test_gitlab_tokens_and_idempotency_keys(world: World, store: Store, base: str) -> None:
    body = json.dumps(
        {
            "ref": "refs/heads/main",
            "project": {"path_with_namespace": "acme/other", "git_http_url": str(world.other.path)},
        }
    ).encode()

    def send(token: str, key: str = "k-1") -> httpx.Response:
        headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": token, "Idempotency-Key": key}
        return httpx.post(f"{base}/webhooks/gitlab", content=body, headers=headers)

    assert send("wrong").status_code == 401
    assert send(GITLAB_TOKEN + "-and-longer").status_code == 401
    assert httpx.post(f"{base}/webhooks/gitlab", content=body).status_code == 401
    first = send(GITLAB_TOKEN)
    assert first.status_code == 202
    assert first.json()["jobs"][0]["target"].startswith("other/")
    assert send(GITLAB_TOKEN).json()["status"] == "replay"


def test_argo_cd_needs_its_bearer_token(base: str) -> None:
    body = b'{"app": "payments"}'
    url = f"{base}/webhooks/argocd"
    assert httpx.post(url, content=body).status_code == 401
    wrong = httpx.post(url, content=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = httpx.post(url, content=body, headers={"Authorization": f"Bearer {ARGOCD_TOKEN}"})
    assert right.status_code == 200
    assert right.json()["reason"] == "no cluster scope holds application payments"


def test_a_webhook_without_a_secret_is_refused_at_start_up() -> None:
    for webhooks, message in (
        ({"github": {}}, "webhooks.github has no secret"),
        ({"github": {"secret": ""}}, "webhooks.github has no secret"),
        ({"gitlab": {}}, "webhooks.gitlab has no token"),
        ({"argocd": {"token": ""}}, "webhooks.argocd has no token"),
    ):
        with pytest.raises(ValueError, match=message):
            ServerConfig.model_validate({"webhooks": webhooks})
    assert issubclass(ConfigError, Exception)


def test_an_unconfigured_webhook_is_not_found(world: World, store: Store) -> None:
    from tests.web.harness import serving

    config = world.config
    bare = config.model_copy(update={"server": config.server.model_copy(update={"webhooks": {}})})
    with serving(bare, store) as (url, _):
        answer = httpx.post(f"{url}/webhooks/github", content=VECTOR_BODY)
        assert answer.status_code == 404


def test_the_webhook_outcomes_are_counted(base: str, server: tuple[str, Server]) -> None:
    github(base, VECTOR_BODY, event="ping", delivery="m-1")
    httpx.post(f"{base}/webhooks/github", content=VECTOR_BODY)
    metrics = httpx.get(f"{base}/metrics").text
    assert 'trueup_webhook_deliveries_total{outcome="ignored",provider="github"} 1.0' in metrics
    assert 'trueup_webhook_deliveries_total{outcome="refused",provider="github"} 1.0' in metrics
