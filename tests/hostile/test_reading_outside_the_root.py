"""Issue 8, case 2: nothing outside a configured root is read; special files are findings.

A symbolic link inside a ``file`` source's folder that leads outside it was read
and exported, and values from it appeared in findings; a FIFO matching the
include was skipped silently. The same held for a Terraform glob and a
Kubernetes export glob. Every one now goes through :mod:`trueup.path_policy`.
"""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run
from tests.hostile.conftest import MakeFifo
from tests.hostile.world import COMPONENT, file_world
from tests.sources.terraform.conftest import NOW, fixture_bytes
from trueup.model.observation import FailureKind, ScopeFailure, Snapshot
from trueup.sources.base import ReadContext
from trueup.sources.kubernetes.config import KubernetesSourceConfig
from trueup.sources.kubernetes.snapshot import KubernetesSnapshotSource
from trueup.sources.terraform import TerraformSource
from trueup.sources.terraform.config import TerraformSourceConfig

MARKER = "OUTSIDE_ROOT_MARKER"


@pytest.fixture
def unix_socket() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_UNIX) as sock:
        yield sock


def _stored(database: Path) -> str:
    with sqlite3.connect(database) as conn:
        return "\n".join(conn.iterdump())


def test_a_symlink_leading_out_of_a_file_source_is_refused_and_nothing_of_it_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = file_world(tmp_path / "world")
    outside = tmp_path / "outside.yaml"
    outside.write_text(COMPONENT.format(name="leaked", description=MARKER, owner="x"))
    (world.catalog / "link.yaml").symlink_to(outside)
    (world.catalog / "teams").symlink_to(tmp_path, target_is_directory=True)
    world.component("inside.yaml", "inside")
    (world.catalog / "alias.yaml").symlink_to(world.catalog / "inside.yaml")  # inside: fine

    code, out, _ = run(capsys, "sync", "-c", str(world.config))
    assert code == 0
    code, out, _ = run(capsys, "check", "-c", str(world.config), "--format", "json")
    findings = json.loads(out)["findings"]
    refused = [f for f in findings if f["evidence"].get("rule") == "outside-root"]
    assert [f["subject"] for f in refused] == ["cat:link.yaml"]
    assert (
        "link.yaml: the file is not read: it is a symbolic link that leads outside"
        in (refused[0]["message"])
    )
    code, exported, _ = run(capsys, "export", "-c", str(world.config))
    assert "name: inside" in exported and "leaked" not in exported
    for text in (out, exported, _stored(world.database)):
        assert MARKER not in text
        assert str(outside) not in text  # not even where the link points


@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_a_special_file_matching_the_include_is_a_finding_never_read(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    unix_socket: socket.socket,
    fifo: MakeFifo,
) -> None:
    world = file_world(tmp_path)
    world.component("ok.yaml", "ok")
    special = world.catalog / "pipe.yaml"
    if kind == "fifo":
        fifo(special)  # opened for reading, it would block the sync for ever
    else:
        unix_socket.bind(str(special))
    code, _, _ = run(capsys, "sync", "-c", str(world.config))
    assert code == 0
    code, out, _ = run(capsys, "check", "-c", str(world.config), "--format", "json")
    (found,) = [f for f in json.loads(out)["findings"] if f["subject"] == "cat:pipe.yaml"]
    assert found["code"] == "invalid-file"
    assert found["evidence"]["rule"] == "special-file"
    what = "FIFO (named pipe)" if kind == "fifo" else "socket"
    assert f"pipe.yaml: the file is not read: it is a {what}, not a file" in found["message"]


def _terraform(state: str) -> list[ScopeFailure | Snapshot]:
    config = TerraformSourceConfig(id="infra", type="terraform", state=state)
    return list(TerraformSource(config).observe(ReadContext(now=lambda: NOW)))


def test_a_terraform_glob_refuses_a_link_out_of_its_folder_and_a_fifo(
    tmp_path: Path, fifo: MakeFifo
) -> None:
    states = tmp_path / "states"
    states.mkdir()
    (states / "ok.tfstate").write_bytes(fixture_bytes("v4-aws.tfstate"))
    elsewhere = tmp_path / "elsewhere.tfstate"
    elsewhere.write_bytes(fixture_bytes("v4-aws.tfstate"))
    (states / "link.tfstate").symlink_to(elsewhere)
    fifo(states / "pipe.tfstate")

    reads = {read.scope: read for read in _terraform(f"{states}/*.tfstate")}
    assert isinstance(reads["ok"], Snapshot) and reads["ok"].observations
    for scope, reason in (
        ("link", "is a symbolic link that leads outside the folder"),
        ("pipe", "is a FIFO (named pipe), not a file; not read"),
    ):
        failure = reads[scope]
        assert isinstance(failure, ScopeFailure), scope
        assert failure.kind is FailureKind.INVALID
        assert reason in failure.message and f"{scope}.tfstate" in failure.message


def test_a_kubernetes_export_glob_refuses_a_link_out_of_its_folder_and_a_fifo(
    tmp_path: Path, fifo: MakeFifo
) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"kind": "List", "items": [], "metadata": {"note": MARKER}}))
    (exports / "prod.json").symlink_to(secret)
    fifo(exports / "stage.json")
    config = KubernetesSourceConfig(id="k", type="kubernetes", snapshot=f"{exports}/*")
    reads = {
        r.scope: r for r in KubernetesSnapshotSource(config).observe(ReadContext(now=lambda: NOW))
    }
    prod, stage = reads["prod"], reads["stage"]
    assert isinstance(prod, ScopeFailure) and "leads outside the folder" in prod.message
    assert isinstance(stage, ScopeFailure) and "FIFO (named pipe)" in stage.message
    assert MARKER not in prod.message


def test_a_text_placeholder_naming_a_fifo_or_a_link_out_is_refused_never_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fifo: MakeFifo
) -> None:
    world = file_world(tmp_path / "world")
    fifo(world.catalog / "pipe.txt", MARKER)
    (tmp_path / "outside.txt").write_text(MARKER)
    (world.catalog / "out.txt").symlink_to(tmp_path / "outside.txt")
    for name, target in (("piped", "./pipe.txt"), ("linked", "./out.txt")):
        world.write(
            f"{name}.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
            f"metadata: {{name: {name}, description: {{$text: '{target}'}}}}\n"
            "spec: {type: service, owner: x, lifecycle: production}\n",
        )
    assert run(capsys, "sync", "-c", str(world.config))[0] == 0
    code, out, _ = run(capsys, "check", "-c", str(world.config), "--format", "json")
    refused = {
        f["subject"]: f["message"]
        for f in json.loads(out)["findings"]
        if f["evidence"].get("rule") == "placeholder"
    }
    assert set(refused) == {"cat:linked.yaml", "cat:piped.yaml"}
    assert "is a FIFO (named pipe), not a file; not read" in refused["cat:piped.yaml"]
    assert "out of the folder" in refused["cat:linked.yaml"]
    code, exported, _ = run(capsys, "export", "-c", str(world.config))
    assert code == 0 and "name: piped" not in exported  # refused, so not served
    assert MARKER not in out + exported + _stored(world.database)
