"""The ``https://`` backend (a Terraform HTTP state backend) against a loopback server."""

from __future__ import annotations

import socket

import pytest

from tests.sources.terraform.conftest import (
    LINEAGE,
    Answer,
    StateServer,
    config,
    fixture_bytes,
    read_all,
)
from trueup.model.observation import FailureKind, ScopeFailure, Snapshot
from trueup.sources.terraform import TerraformSource

PATH = "/api/v4/projects/42/terraform/state/payments"


def test_a_get_of_the_address_reads_the_state(state_server: StateServer) -> None:
    state_server.answers[PATH] = Answer(body=fixture_bytes("v4-aws.tfstate"))
    reads = read_all(TerraformSource(config(state_server.url + PATH)))
    assert len(reads) == 1
    read = reads[0]
    assert isinstance(read, Snapshot), read
    assert read.scope == state_server.url + PATH
    assert read.version.startswith(f"{LINEAGE}/7#")
    assert {o.ref.name for o in read.observations} >= {"payments.aws_db_instance.payments"}


def test_basic_auth_and_headers_come_from_the_config(
    state_server: StateServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_server.answers[PATH] = Answer(body=fixture_bytes("v4-aws.tfstate"))
    state_server.basic_auth = ("gitlab-ci-token", "s3cret-pass")
    with_auth = config(
        state_server.url + PATH,
        username="gitlab-ci-token",
        password="s3cret-pass",
        headers={"X-Trace": "trueup"},
    )
    assert isinstance(read_all(TerraformSource(with_auth))[0], Snapshot)
    assert state_server.requests[-1]["x-trace"] == "trueup"
    state_server.basic_auth = None
    state_server.bearer = "tok-123"
    bearer = config(state_server.url + PATH, headers={"Authorization": "Bearer tok-123"})
    assert isinstance(read_all(TerraformSource(bearer))[0], Snapshot)
    assert "s3cret-pass" not in repr(with_auth) and "tok-123" not in repr(bearer)


@pytest.mark.parametrize(
    ("answer", "kind", "said"),
    [
        (Answer(404, b"no"), FailureKind.NOT_INSTALLED, "HTTP 404"),
        (Answer(204), FailureKind.NOT_INSTALLED, "HTTP 204"),
        (Answer(403, b"the password is hunter2"), FailureKind.FORBIDDEN, "HTTP 403"),
        (Answer(429, b"slow down"), FailureKind.RATE_LIMITED, "HTTP 429"),
        (Answer(503, b"busy"), FailureKind.UNREACHABLE, "HTTP 503"),
        (Answer(418, b"teapot"), FailureKind.ERROR, "HTTP 418"),
        (Answer(body=fixture_bytes("v5.tfstate")), FailureKind.INVALID, "version 5"),
    ],
)
def test_failed_answers_are_failures_of_their_kind_without_the_body(
    state_server: StateServer, answer: Answer, kind: FailureKind, said: str
) -> None:
    state_server.answers[PATH] = answer
    read = read_all(TerraformSource(config(state_server.url + PATH)))[0]
    assert isinstance(read, ScopeFailure)
    assert read.kind is kind
    assert said in read.message
    assert "hunter2" not in read.message


def test_a_wrong_password_is_forbidden(state_server: StateServer) -> None:
    state_server.answers[PATH] = Answer(body=fixture_bytes("v4-aws.tfstate"))
    state_server.basic_auth = ("user", "right")
    wrong = config(state_server.url + PATH, username="user", password="wrong")
    read = read_all(TerraformSource(wrong))[0]
    assert isinstance(read, ScopeFailure)
    assert read.kind is FailureKind.FORBIDDEN


def test_credentials_and_query_in_the_url_never_show(state_server: StateServer) -> None:
    state_server.answers[PATH] = Answer(404)
    host = state_server.url.removeprefix("http://")
    read = read_all(TerraformSource(config(f"http://user:pa55word@{host}{PATH}?token=qq77")))[0]
    assert isinstance(read, ScopeFailure)
    assert read.scope == state_server.url + PATH
    assert "pa55word" not in read.message and "qq77" not in read.message


def test_a_body_over_the_size_cap_is_refused(state_server: StateServer) -> None:
    state_server.answers[PATH] = Answer(body=fixture_bytes("v4-aws.tfstate"))
    read = read_all(TerraformSource(config(state_server.url + PATH, max_state_size=1024)))[0]
    assert isinstance(read, ScopeFailure)
    assert read.kind is FailureKind.INVALID
    assert "larger than max_state_size (1024 bytes)" in read.message


def test_a_server_nobody_listens_on_is_unreachable() -> None:
    with socket.socket() as probe:  # a loopback port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    read = read_all(TerraformSource(config(f"http://127.0.0.1:{port}/state", timeout="2s")))[0]
    assert isinstance(read, ScopeFailure)
    assert read.kind is FailureKind.UNREACHABLE
    assert "ConnectError" in read.message


# --- redirects: credentials stay with the configured origin --------------------------------

SECRETS = {"username": "ci", "password": "s3cret-pass", "headers": {"X-Api-Key": "k-123"}}


def test_credentials_never_follow_a_redirect_to_another_origin(
    state_server: StateServer, other_server: StateServer
) -> None:
    """Neither basic auth nor a configured header (an API key) goes to another host or port."""
    state_server.basic_auth = ("ci", "s3cret-pass")
    state_server.answers[PATH] = Answer(302, headers={"Location": f"{other_server.url}/blob?sig=x"})
    other_server.answers["/blob"] = Answer(body=fixture_bytes("v4-aws.tfstate"))
    read = read_all(TerraformSource(config(state_server.url + PATH, **SECRETS)))[0]
    assert isinstance(read, Snapshot), read
    (followed,) = other_server.requests
    assert "x-api-key" not in followed and "authorization" not in followed
    assert "k-123" not in str(followed) and "s3cret" not in str(followed)


def test_a_redirect_within_the_origin_keeps_the_credentials(state_server: StateServer) -> None:
    state_server.basic_auth = ("ci", "s3cret-pass")
    state_server.answers[PATH] = Answer(301, headers={"Location": "/moved/state"})
    state_server.answers["/moved/state"] = Answer(body=fixture_bytes("v4-aws.tfstate"))
    read = read_all(TerraformSource(config(state_server.url + PATH, **SECRETS)))[0]
    assert isinstance(read, Snapshot), read
    assert [r["path"] for r in state_server.requests] == [PATH, "/moved/state"]
    assert state_server.requests[-1]["x-api-key"] == "k-123"


def test_another_origin_that_wants_credentials_fails_naming_the_rule(
    state_server: StateServer, other_server: StateServer
) -> None:
    state_server.answers[PATH] = Answer(307, headers={"Location": f"{other_server.url}/s?sig=x"})
    other_server.basic_auth = ("ci", "s3cret-pass")
    read = read_all(TerraformSource(config(state_server.url + PATH, **SECRETS)))[0]
    assert isinstance(read, ScopeFailure), read
    assert read.kind is FailureKind.FORBIDDEN
    assert f"redirected to {other_server.url}/s" in read.message
    assert "credentials are not sent to another origin" in read.message
    assert "sig=x" not in read.message and "s3cret" not in read.message


def test_a_redirect_loop_is_an_error_not_a_hang(state_server: StateServer) -> None:
    state_server.answers[PATH] = Answer(302, headers={"Location": PATH})
    read = read_all(TerraformSource(config(state_server.url + PATH)))[0]
    assert isinstance(read, ScopeFailure), read
    assert read.kind is FailureKind.ERROR and "more than 20 redirects" in read.message
    assert len(state_server.requests) == 21
