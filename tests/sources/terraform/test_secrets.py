"""Sensitive values never leave trueup (SPEC 4.3; test plan row 39).

A secret is planted where real states hold secrets — a sensitive attribute, a
sensitive output, a connection URL, a tag value, a legacy flatmap, a corrupt
file and a bad value that ends up in an error message — and every way out is
grepped for it: observations and findings, failure messages, log lines at
DEBUG, the CLI's output (``sync``, ``export`` in both formats,
``check --format json``, ``explain`` in both formats, ``config show``), the
directory sink and the database file itself.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.sources.terraform.conftest import (
    PLANTED,
    PLANTED_TOKEN,
    Answer,
    S3Server,
    StateServer,
    config,
    fixture_bytes,
    fixture_state,
    read_all,
    state_text,
)
from trueup.cli import main
from trueup.model.observation import ScopeFailure, Snapshot
from trueup.sources.terraform import TerraformSource

SECRETS = (PLANTED, PLANTED_TOKEN, "hunter2-header-token")

CATALOG = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments-api
  description: Takes card payments.
spec:
  type: service
  lifecycle: production
  owner: group:default/platform
  system: payments
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: platform
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: payments
  description: Payments.
spec:
  owner: group:default/platform
"""

CONFIG = """\
database: sqlite:///trueup.db
sources:
  - id: catalog
    type: file
    path: catalog
  - id: infra
    type: terraform
    state: states/*.tfstate
    owner: group:default/platform
    mappings:
      - type: aws_db_instance
        system: payments
  - id: remote
    type: terraform
    state: {url}/remote
    headers:
      Authorization: Bearer ${TRUEUP_TEST_HEADER}
sinks:
  - type: directory
    path: out/catalog
"""


def assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{where} shows a secret"


def weird_mode_with_a_secret() -> str:
    document = fixture_state()
    document["resources"][1]["mode"] = PLANTED
    return state_text(document)


@pytest.fixture
def world(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    state_server: StateServer,
) -> Path:
    monkeypatch.setenv("TRUEUP_TEST_HEADER", "hunter2-header-token")
    state_server.bearer = "hunter2-header-token"
    state_server.answers["/remote"] = Answer(body=fixture_bytes("v4-aws.tfstate"))
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog/catalog-info.yaml").write_text(CATALOG, encoding="utf-8")
    states = tmp_path / "states"
    states.mkdir()
    (states / "payments.tfstate").write_bytes(fixture_bytes("v4-aws.tfstate"))
    (states / "legacy.tfstate").write_bytes(fixture_bytes("v4-legacy-flat.tfstate"))
    (states / "broken.tfstate").write_bytes(fixture_bytes("corrupt.tfstate"))
    (states / "weird.tfstate").write_text(weird_mode_with_a_secret(), encoding="utf-8")
    (tmp_path / "trueup.yaml").write_text(
        CONFIG.replace("{url}", state_server.url), encoding="utf-8"
    )
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out + err


def test_no_output_of_the_cli_shows_a_planted_secret(
    world: Path,
    state_server: StateServer,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = str(world / "trueup.yaml")
    outputs: dict[str, str] = {}

    code, outputs["sync"] = run(capsys, "sync", "-c", cfg)
    assert code == 2  # the broken and the weird state failed; the others were read
    assert "broken" in outputs["sync"] and "byte 296" in outputs["sync"]
    assert "(redacted)" in outputs["sync"]  # the weird mode was the secret
    assert f"remote/{state_server.url}/remote: 6 observations" in outputs["sync"]
    assert state_server.requests[0]["authorization"] == "Bearer hunter2-header-token"

    # A rollback: refused, and its message is clean too.
    rolled = fixture_state() | {"serial": 2}
    (world / "states/payments.tfstate").write_text(state_text(rolled), encoding="utf-8")
    code, outputs["sync rollback"] = run(capsys, "sync", "-c", cfg)
    assert code == 2
    assert "rolled back: serial 2 < 7" in outputs["sync rollback"]

    code, outputs["export"] = run(capsys, "export", "-c", cfg)
    assert code == 0
    code, outputs["export json"] = run(capsys, "export", "-c", cfg, "--format", "json")
    assert code == 0
    exported = json.loads(outputs["export json"])
    items = exported["items"] if isinstance(exported, dict) else exported
    resources = [e for e in items if e["kind"] == "Resource"]
    assert len(resources) >= 12  # from the local states and from the HTTP backend
    database = next(
        e for e in resources if e["metadata"]["name"] == "payments.aws_db_instance.payments"
    )
    assert database["spec"]["dependencyOf"] == ["component:default/payments-api"]
    assert database["spec"]["system"] == "payments"

    code, outputs["check"] = run(
        capsys, "check", "-c", cfg, "--format", "json", "--fail-on", "never"
    )
    assert code == 0
    for entity in items:
        ref = f"{entity['kind']}:default/{entity['metadata']['name']}"
        code, outputs[f"explain {ref}"] = run(capsys, "explain", ref, "-c", cfg, "--format", "json")
        assert code == 0
    code, outputs["explain text"] = run(
        capsys, "explain", f"resource:default/{database['metadata']['name']}", "-c", cfg
    )
    assert code == 0
    code, outputs["config show"] = run(capsys, "config", "show", "-c", cfg)
    assert code == 0

    outputs["log"] = caplog.text
    for record in caplog.records:  # the arguments, too, not only the formatted line
        outputs[f"log args {record.name}"] = repr(record.args)
    for path in world.rglob("*"):
        if path.is_file() and path.parent.name != "states" and path.suffix != ".yaml":
            outputs[f"file {path.relative_to(world)}"] = path.read_bytes().decode("latin-1")
    for path in (world / "out").rglob("*.yaml"):
        outputs[f"sink {path.name}"] = path.read_text(encoding="utf-8")
    assert any(name.startswith("file trueup.db") for name in outputs)
    assert "db-ABCDEF123456" in outputs["export"]  # what may be shown is shown
    for where, text in outputs.items():
        assert_clean(text, where)


def test_reads_over_s3_and_http_show_no_secret_in_snapshots_failures_or_logs(
    s3_server: S3Server, state_server: StateServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    s3_server.put(
        "acme-tfstate",
        {
            "good.tfstate": fixture_bytes("v4-aws.tfstate"),
            "weird.tfstate": weird_mode_with_a_secret().encode(),
        },
    )
    state_server.answers["/good"] = Answer(body=fixture_bytes("v4-aws.tfstate"))
    state_server.answers["/weird"] = Answer(body=weird_mode_with_a_secret().encode())
    reads = read_all(
        TerraformSource(config("s3://acme-tfstate/*.tfstate", endpoint_url=s3_server.endpoint))
    )
    for path in ("/good", "/weird"):
        reads += read_all(TerraformSource(config(state_server.url + path)))
    assert [type(r) for r in reads] == [Snapshot, ScopeFailure, Snapshot, ScopeFailure]
    for read in reads:
        assert_clean(repr(read), f"read of {read.scope}")
        if isinstance(read, Snapshot):
            for observation in read.observations:
                assert_clean(json.dumps(observation.to_json(), default=str), str(observation.ref))
    assert_clean(caplog.text, "log")
    assert_clean(repr([r.args for r in caplog.records]), "log arguments")


def test_the_source_itself_keeps_no_secret(state_server: StateServer) -> None:
    state_server.answers["/state"] = Answer(body=fixture_bytes("v4-aws.tfstate"))
    state_server.basic_auth = ("ci", PLANTED)
    source = TerraformSource(config(state_server.url + "/state", username="ci", password=PLANTED))
    assert_clean(repr(source.config), "the config's repr")
    reads: list[Any] = read_all(source)
    assert [type(r) for r in reads] == [Snapshot]
    assert_clean(repr(reads), "the reads")
