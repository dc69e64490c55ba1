"""Shared fixtures for the terraform source: state fixtures and loopback servers.

- :func:`two_databases`: a state of two database instances, the engine of one set by the test.
- ``FIXTURES``: small state files modelled on hashicorp/terraform's
  ``internal/states/statefile/testdata/roundtrip/v4-*.tfstate`` (modules,
  count and for_each keys, data sources, legacy ``attributes_flat``, sensitive
  attributes and outputs), plus corrupt, truncated and unsupported ones.
  ``PLANTED`` is the secret planted in them; no output may ever show it.
- ``s3_server``: moto's S3 in server mode on 127.0.0.1 (a real HTTP server
  that speaks the S3 protocol), with credentials in the environment.
- ``state_server``: a tiny HTTP state backend on 127.0.0.1 serving scripted
  answers.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from trueup.model.observation import ScopeRead, Snapshot
from trueup.sources.base import ReadContext
from trueup.sources.terraform import TerraformSource
from trueup.sources.terraform.config import TerraformSourceConfig

FIXTURES = Path(__file__).parent / "fixtures"
PLANTED = "planted-Secret-4f9c2e71"
PLANTED_TOKEN = "planted-Token-77aa01bc"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
LINEAGE = "b1a7f3c2-6d4e-4f1a-9c2b-0e8d7a6f5b41"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_state(name: str = "v4-aws.tfstate") -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(fixture_bytes(name))
    return loaded


def state_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def two_databases(serial: int, engine: str, *, lineage: str = LINEAGE) -> dict[str, Any]:
    """A state of two ``aws_db_instance``: ``main`` (``postgres``) and ``odd`` (``engine``)."""

    def resource(name: str, engine: str) -> dict[str, Any]:
        return {
            "mode": "managed",
            "type": "aws_db_instance",
            "name": name,
            "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
            "instances": [{"attributes": {"id": name, "engine": engine}}],
        }

    return {
        "version": 4,
        "terraform_version": "1.9.0",
        "serial": serial,
        "lineage": lineage,
        "outputs": {},
        "resources": [resource("main", "postgres"), resource("odd", engine)],
    }


def config(state: str, **extra: Any) -> TerraformSourceConfig:
    return TerraformSourceConfig.model_validate(
        {"id": "infra", "type": "terraform", "state": state} | extra
    )


def context(previous: dict[str, Snapshot] | None = None, **extra: Any) -> ReadContext:
    return ReadContext(now=lambda: NOW, previous=previous or {}, **extra)


def read_all(
    source: TerraformSource, previous: dict[str, Snapshot] | None = None
) -> list[ScopeRead]:
    return list(source.observe(context(previous)))


# --- S3: moto in server mode ---------------------------------------------------------

AWS_ENV_CLEARED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials from the environment only: no shared files, no instance metadata."""
    for name in AWS_ENV_CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATRUEUPTEST000001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "trueup-test-secret-access-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask 169.254.169.254
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@dataclass
class S3Server:
    endpoint: str
    reset: Callable[[], None]

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            config=Config(s3={"addressing_style": "path"}),
        )

    def put(self, bucket: str, objects: dict[str, bytes]) -> None:
        client = self.client()
        try:
            client.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
            )
            for key, body in objects.items():
                client.put_object(Bucket=bucket, Key=key, Body=body)
        finally:
            client.close()


@pytest.fixture(scope="session")
def _moto() -> Iterator[tuple[str, Callable[[], None]]]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()

    def reset() -> None:  # moto's own reset endpoint: a fresh, empty S3 for each test
        import urllib.request

        request = urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    try:
        yield f"http://{host}:{port}", reset
    finally:
        server.stop()


@pytest.fixture
def s3_server(_moto: tuple[str, Callable[[], None]], aws_env: None) -> Iterator[S3Server]:
    endpoint, reset = _moto
    reset()
    yield S3Server(endpoint, reset)
    reset()


# --- a Terraform HTTP state backend on loopback ---------------------------------------


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StateServer:
    """Scripted answers by path; records the requests it got."""

    url: str
    answers: dict[str, Answer] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    basic_auth: tuple[str, str] | None = None
    bearer: str | None = None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        state = self.server.state
        state.requests.append(
            {"path": self.path, **{k.lower(): v for k, v in self.headers.items()}}
        )
        expected = []
        if state.basic_auth is not None:
            token = base64.b64encode(":".join(state.basic_auth).encode()).decode()
            expected.append(f"Basic {token}")
        if state.bearer is not None:
            expected.append(f"Bearer {state.bearer}")
        if expected and self.headers.get("Authorization") not in expected:
            answer = Answer(401, b'{"error": "unauthorized"}')
        else:
            answer = state.answers.get(self.path.split("?")[0], Answer(404, b"not found"))
        self.send_response(answer.status)
        for key, value in answer.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return None


class _Server(ThreadingHTTPServer):
    state: StateServer


@contextmanager
def _serving() -> Iterator[StateServer]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = StateServer(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def state_server() -> Iterator[StateServer]:
    with _serving() as state:
        yield state


@pytest.fixture
def other_server() -> Iterator[StateServer]:
    """A second backend on another port: another origin."""
    with _serving() as state:
        yield state
