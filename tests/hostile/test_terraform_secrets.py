"""Issue 8, case 6: Terraform's sensitive values leave trueup nowhere, not even as keys.

A sensitive value used as a ``for_each`` key (through ``nonsensitive()``, or a
key derived from a secret) used to end up in the entity's name, title and
annotations — 35 copies in the database. A ``?token=`` in an HTTP state URL must
not be exported or stored either.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run

SECRET_KEY = "tenant-Key-9f8e7d6c"
AWS = 'provider["registry.terraform.io/hashicorp/aws"]'


def _state(serial: int = 1) -> dict[str, Any]:
    def bucket(key: str, bucket_id: str) -> dict[str, Any]:
        return {
            "index_key": key,
            "schema_version": 0,
            "attributes": {"id": bucket_id, "bucket": bucket_id},
            "sensitive_attributes": [],
        }

    return {
        "version": 4,
        "terraform_version": "1.9.8",
        "serial": serial,
        "lineage": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "outputs": {"tenant_key": {"value": SECRET_KEY, "type": "string", "sensitive": True}},
        "resources": [
            {
                "mode": "managed",
                "type": "aws_s3_bucket",
                "name": "per_tenant",
                "each": "map",
                "provider": AWS,
                "instances": [bucket(SECRET_KEY, "bucket-one"), bucket("public", "bucket-two")],
            },
            {
                "module": f'module.tenant["{SECRET_KEY}"]',
                "mode": "managed",
                "type": "aws_sqs_queue",
                "name": "jobs",
                "provider": AWS,
                "instances": [{"schema_version": 0, "attributes": {"id": "q"}}],
            },
        ],
    }


def test_a_sensitive_value_used_as_a_for_each_key_appears_in_no_name_title_or_annotation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "states").mkdir()
    (tmp_path / "states" / "prod.tfstate").write_text(json.dumps(_state()))
    config = tmp_path / "trueup.yaml"
    config.write_text(
        f"database: sqlite:///{tmp_path / 'trueup.db'}\n"
        f"sources:\n  - {{id: tf, type: terraform, state: '{tmp_path}/states/*.tfstate'}}\n"
        f"sinks:\n  - {{type: directory, path: {tmp_path / 'out'}}}\n"
    )
    shown = []
    code, out, err = run(capsys, "sync", "-c", str(config))
    assert code == 0, out
    shown += [out, err]
    code, exported, _ = run(capsys, "export", "-c", str(config), "--format", "json")
    shown.append(exported)
    items = json.loads(exported)["items"]
    titles = sorted(item["metadata"]["title"] for item in items)
    assert titles == [
        'aws_s3_bucket.per_tenant["(sensitive value 1)"]',
        'aws_s3_bucket.per_tenant["public"]',
        'module.tenant["(sensitive value 1)"].aws_sqs_queue.jobs',
    ]
    names = sorted(item["metadata"]["name"] for item in items)
    assert names == [
        "prod.aws_s3_bucket.per_tenant.public",
        "prod.aws_s3_bucket.per_tenant.sensitive-value-1",
        "prod.tenant.sensitive-value-1-aws_sqs_queue.jobs",
    ]
    for argv in (["check", "--format", "json"], ["explain", f"resource:{names[1]}"]):
        shown.append(run(capsys, *argv, "-c", str(config))[1])
    with sqlite3.connect(tmp_path / "trueup.db") as conn:
        shown.append("\n".join(conn.iterdump()))
    shown += [p.read_text() for p in (tmp_path / "out").rglob("*.yaml")]
    for text in shown:
        assert SECRET_KEY not in text


class _StateHandler(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def state_url() -> Iterator[str]:
    _StateHandler.body = json.dumps(_state()).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StateHandler)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/states/prod"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_token_in_a_terraform_state_url_is_not_exported_or_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], state_url: str
) -> None:
    token = "st4te-url-T0ken-value"
    config = tmp_path / "trueup.yaml"
    config.write_text(
        f"database: sqlite:///{tmp_path / 'trueup.db'}\n"
        f"sources:\n  - {{id: tf, type: terraform, state: '{state_url}?token={token}'}}\n"
    )
    shown = []
    code, out, err = run(capsys, "sync", "-c", str(config))
    assert code == 0, out
    shown += [out, err]
    for argv in (["export"], ["check", "--format", "junit"], ["config", "show"]):
        code, out, err = run(capsys, *argv, "-c", str(config))
        shown += [out, err]
    assert f"trueup.io/terraform-state: {state_url}\n" in shown[2]
    with sqlite3.connect(tmp_path / "trueup.db") as conn:
        shown.append("\n".join(conn.iterdump()))
    for text in shown:
        assert token not in text
