"""The command line end to end on the demo world (SPEC section 3 and 6.1).

Commands run in-process through ``trueup.cli.main`` with real files and a real
SQLite database; exit codes and machine-readable output are the contract.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import yaml

from tests.conftest import run
from trueup.cli import main
from trueup.model.validation import validate_entity
from trueup.store.store import SCHEMA_HEAD
from trueup.world import DemoWorld, write_demo_world


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoWorld:
    world = write_demo_world(tmp_path_factory.mktemp("demo"), now=datetime.now(UTC))
    assert main(["sync", "-c", str(world.config)]) == 0
    return world


def exported(
    capsys: pytest.CaptureFixture[str], world: DemoWorld, *extra: str
) -> list[dict[str, Any]]:
    code, out, _ = run(capsys, "export", "-c", str(world.config), *extra)
    assert code == 0
    return [doc for doc in yaml.safe_load_all(out) if doc is not None]


def test_every_emitted_entity_passes_backstage_validation(
    demo: DemoWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = exported(capsys, demo)
    assert len(docs) >= 30
    for doc in docs:
        assert validate_entity(doc) == [], doc["metadata"]["name"]
        assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}  # never a root status
        notes = doc["metadata"]["annotations"]
        assert all(isinstance(v, str) for v in notes.values())
        assert notes["backstage.io/managed-by-location"].startswith("url:")
        assert notes["backstage.io/managed-by-location"].endswith("/backstage/entities.yaml")
        assert (
            notes["backstage.io/managed-by-origin-location"]
            == notes["backstage.io/managed-by-location"]
        )
        for key in (
            "trueup.io/sources",
            "trueup.io/quality-score",
            "trueup.io/findings",
            "trueup.io/drift",
        ):
            assert key in notes
    kinds = {doc["kind"] for doc in docs}
    assert {"Component", "API", "Resource", "System", "Domain", "Group", "User"} <= kinds
    assert "Location" not in kinds
    names = {doc["metadata"]["name"] for doc in docs}
    assert demo.invalid_entity_name not in names  # the invalid one is a finding, never emitted
    assert demo.undeclared in names  # discovered, shown with its marker
    declared_files = {
        doc["metadata"]["annotations"].get("backstage.io/source-location") for doc in docs
    } - {None}
    assert declared_files and all(str(loc).startswith("file:") for loc in declared_files)


def test_export_json_and_kind_filter(demo: DemoWorld, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "export", "-c", str(demo.config), "--format", "json", "--kind", "group"
    )
    assert code == 0
    items = json.loads(out)["items"]
    assert items and {i["kind"] for i in items} == {"Group"}


def test_the_demo_shows_every_kind_of_problem(
    demo: DemoWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "check", "-c", str(demo.config), "--format", "json")
    assert code == 3  # errors at or above the default --fail-on error
    report = json.loads(out)
    by_code: dict[str, set[str]] = {}
    for f in report["findings"]:
        by_code.setdefault(f["code"], set()).add(f["subject"])
    assert any(
        str(demo.broken_file.name) in json.dumps(f)
        for f in report["findings"]
        if f["code"] == "invalid-file"
    )
    assert "invalid-entity" in by_code
    assert f"component:default/{demo.dangling_owner}" in by_code["dangling-ref"]
    assert f"component:default/{demo.missing_description}" in by_code["missing-field"]
    assert f"component:default/{demo.undeclared}" in by_code["undeclared"]
    drifted = by_code["drift"]
    for name in (demo.out_of_sync, demo.degraded, demo.not_deployed, demo.revision_behind):
        assert f"component:default/{name}" in drifted
    for name in (demo.not_ready, demo.not_synced):  # Crossplane claims
        assert f"resource:default/{name}" in drifted
    behind = next(
        f
        for f in report["findings"]
        if f["subject"] == f"component:default/{demo.revision_behind}"
        and f["evidence"].get("key") == "argocd-revision"
    )
    assert behind["evidence"]["head"] == demo.commits[1]
    assert behind["evidence"]["deployed"] == demo.commits[0]
    assert report["counts"]["error"] >= 2  # the broken file and the invalid entity
    assert report["scorecard"] and {"owner", "score", "entities"} <= set(report["scorecard"][0])


def test_check_fail_on_and_junit(demo: DemoWorld, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(demo.config)
    assert run(capsys, "check", "-c", config, "--fail-on", "never")[0] == 0
    code, out, _ = run(capsys, "check", "-c", config, "--format", "junit", "--fail-on", "warning")
    assert code == 3
    suite = ET.fromstring(out.split("?>", 1)[1]).find("testsuite")
    assert suite is not None
    failures = suite.findall("testcase/failure")
    assert int(suite.get("failures", "0")) == len(failures) > 0
    types = {f.get("type") for f in failures}
    assert {"drift", "invalid-entity"} <= types


def test_explain_shows_provenance_and_status_per_place(
    demo: DemoWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys,
        "explain",
        f"component:{demo.out_of_sync}",
        "-c",
        str(demo.config),
        "--format",
        "json",
    )
    assert code == 0
    data = json.loads(out)
    fields = {row["field"]: row for row in data["fields"]}
    owner = fields["spec.owner"]
    assert owner["source"] == "catalog" and owner["locator"].startswith("catalog@")
    assert ".yaml#" in owner["locator"]
    syncs = {p["place"]: p["value"] for p in data["places"] if p["key"] == "argocd-sync"}
    assert "OutOfSync" in syncs.values()
    assert data["entity"]["metadata"]["annotations"]["trueup.io/argocd-sync"] == "OutOfSync"
    code, text, _ = run(capsys, "explain", demo.out_of_sync, "-c", str(demo.config))
    assert code == 0 and "spec.owner" in text and "argocd-sync" in text


def test_explain_unknown_ref(demo: DemoWorld, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "explain", "component:nope", "-c", str(demo.config))[0] == 1
    assert run(capsys, "explain", "bad:ref:x", "-c", str(demo.config))[0] == 1


def test_history_records_what_changed_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = write_demo_world(tmp_path)
    config = str(world.config)
    assert main(["sync", "-c", config]) == 0
    target = next(p for p in world.catalog.rglob("*.yaml") if "checkout-web" in p.read_text())
    target.write_text(
        target.read_text().replace("lifecycle: production", "lifecycle: deprecated", 1)
    )
    world.commit("checkout-web is deprecated")
    assert main(["sync", "-c", config]) == 0
    code, out, _ = run(
        capsys, "history", "component:checkout-web", "-c", config, "--format", "json"
    )
    assert code == 0
    revisions = json.loads(out)["revisions"]
    assert [r["change"] for r in revisions] == ["created", "changed"]
    assert revisions[1]["diff"]["changed"]["spec.lifecycle"] == {
        "from": "production",
        "to": "deprecated",
    }
    assert revisions[1]["cause"].startswith("sync run 2")
    code, text, _ = run(capsys, "history", "checkout-web", "-c", config)
    assert code == 0 and "spec.lifecycle" in text


def test_sync_exits_2_when_a_scope_fails_and_keeps_its_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = write_demo_world(tmp_path)
    config = str(world.config)
    assert main(["sync", "-c", config]) == 0
    before = exported(capsys, world)
    world.exports[0].write_text('{"apiVersion": "v1", "kind": "List", "items": [')
    code, out, _ = run(capsys, "sync", "-c", config)
    assert code == 2
    assert "failed" in out and world.exports[0].stem in out
    after = exported(capsys, world)
    assert {d["metadata"]["name"] for d in after} == {d["metadata"]["name"] for d in before}


def test_a_second_sync_keeps_unchanged_exports_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = write_demo_world(tmp_path)
    config = str(world.config)
    assert main(["sync", "-c", config]) == 0
    code, out, _ = run(capsys, "sync", "-c", config)
    assert code == 0
    for export in world.exports:  # the same file: not parsed, its stored rows kept
        assert f"clusters/{export.stem}: 0 observations, 1 unchanged parts kept" in out
    assert "0 created, 0 changed, 0 removed" in out


def test_removals_are_held_and_released_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = write_demo_world(tmp_path)
    config = str(world.config)
    assert main(["sync", "-c", config]) == 0
    for path in world.catalog.rglob("*.yaml"):
        path.write_text("")
    world.commit("empty every catalog file")
    code, out, _ = run(capsys, "sync", "-c", config)
    assert code == 0 and "held" in out
    assert len(exported(capsys, world)) > 20
    code, out, _ = run(capsys, "sync", "-c", config, "--accept-removals", "catalog")
    assert code == 0
    remaining = exported(capsys, world)
    assert remaining and all(
        d["metadata"]["annotations"]["trueup.io/discovered"] == "true" for d in remaining
    )


def test_config_show_redacts_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUEUP_READ_TOKEN", "very-secret-read-token")
    (tmp_path / "trueup.yaml").write_text(
        "database: postgresql+psycopg://app:db-password@localhost/trueup\n"
        "server:\n  tokens:\n    - {name: backstage, role: read, token: ${TRUEUP_READ_TOKEN}}\n"
    )
    code, out, err = run(capsys, "config", "show", "-c", str(tmp_path / "trueup.yaml"))
    assert code == 0
    assert "very-secret-read-token" not in out + err and "db-password" not in out + err
    assert "**********" in out


def test_config_errors_exit_1_naming_file_line_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "trueup.yaml"
    path.write_text("sources:\n  - id: c\n    type: file\n    path: x\n    incldue: []\n")
    code, _, err = run(capsys, "config", "check", "-c", str(path))
    assert code == 1
    assert f"{path}:5" in err.replace("\n", "") and "incldue" in err
    path.write_text("sources:\n  - id: tf\n    type: terraform\n    state: ftp://host/x.tfstate\n")
    code, _, err = run(capsys, "config", "check", "-c", str(path))
    assert code == 1 and "'tf'" in err  # a source that cannot be built names itself


def test_usage_errors_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "sync", "--no-such-flag")[0] == 1
    assert run(capsys, "check", "--fail-on", "sometimes")[0] == 1


def test_init_writes_a_valid_starter_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, "init", str(tmp_path))[0] == 0
    assert run(capsys, "init", str(tmp_path))[0] == 1
    monkeypatch.setenv("TRUEUP_CONFIG", str(tmp_path / "trueup.yaml"))
    assert run(capsys, "config", "check")[0] == 0
    assert (tmp_path / "catalog").is_dir()  # written with the starter, which reads it
    (tmp_path / "catalog" / "x.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\n"
        "metadata: {name: team-a}\nspec: {type: team, children: []}\n"
    )
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0 and f"database upgraded: schema none -> {SCHEMA_HEAD}" in out
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0 and f"database is up to date (schema {SCHEMA_HEAD})" in out
    assert run(capsys, "sync")[0] == 0
    assert (tmp_path / "out" / "catalog" / "default" / "group" / "team-a.yaml").exists()


def test_demo_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo", "--once", "--dir", str(tmp_path / "d"))
    assert code == 0
    assert "trueup.db" in out and (tmp_path / "d" / "trueup.db").exists()


def test_check_text_keeps_bracketed_rule_names(
    demo: DemoWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "check", "-c", str(demo.config), "--fail-on", "never")
    assert code == 0
    assert "[name-length]" in out  # data is never read as terminal markup
    assert "[yaml-syntax]" in out
