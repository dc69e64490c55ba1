"""What trueup serves, end to end through the command line (SPEC 4.1, 6.1, issue 7).

A real folder of catalog files as ``trueup init`` would read it (``**/*.yaml``):
Kubernetes manifests are counted and ignored in the summary and the run record,
a Template outside the policy is explained with its document and finding, the
feed and the directory sink hold only what the policy allows even when the
store holds more, and ``history`` names the commit and file behind a revision.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import run
from trueup.config import load_config
from trueup.store import Store

GROUP = (
    "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team-a}\n"
    "spec: {type: team, children: []}\n"
)
COMPONENT = (
    "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
    "metadata: {name: payments, description: Takes the money}\n"
    "spec: {type: service, lifecycle: production, owner: team-a}\n"
)
TEMPLATE = (
    "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata: {name: new-service}\n"
    "spec: {type: service, steps: [{action: fetch:plain}]}\n"
)
DEPLOYMENT = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: payments}\n"


def write_world(root: Path, *, kinds: str = "", sink: bool = True) -> Path:
    catalog = root / "catalog"
    (catalog / "deploy").mkdir(parents=True, exist_ok=True)
    (catalog / "catalog-info.yaml").write_text(f"{GROUP}---\n{COMPONENT}---\n{TEMPLATE}")
    (catalog / "deploy" / "k8s.yaml").write_text(f"{DEPLOYMENT}---\n{DEPLOYMENT}")
    config = root / "trueup.yaml"
    text = (
        "database: sqlite:///trueup.db\nsources:\n"
        "  - {id: catalog, type: file, path: catalog, include: ['**/*.yaml']}\n"
    )
    if sink:
        text += "sinks:\n  - {type: directory, path: out}\n"
    if kinds:
        text += f"backstage:\n  kinds: [{kinds}]\n"
    config.write_text(text)
    return config


def test_manifests_are_one_summary_line_and_the_template_is_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_world(tmp_path)
    code, out, _ = run(capsys, "sync", "-c", str(config))
    assert code == 0
    assert "2 documents in 1 file: no Backstage entities" in out
    with Store.open(load_config(config).database) as store:
        summary = store.runs(limit=1)[0].summary
    assert summary["ignored_documents"] == 2
    assert summary["ignored_files"] == {"catalog/catalog:deploy/k8s.yaml": 2}

    code, out, _ = run(capsys, "check", "-c", str(config), "--format", "json")
    findings = json.loads(out)["findings"]
    assert [f["code"] for f in findings if f["code"] != "missing-field"] == ["unsupported-kind"]
    assert not any("k8s.yaml" in json.dumps(f) for f in findings)  # no finding per manifest

    code, out, _ = run(capsys, "explain", "template:new-service", "-c", str(config))
    assert code == 0
    assert "declared but NOT served" in out
    assert "catalog-info.yaml#2" in out and "unsupported-kind" in out
    code, out, _ = run(
        capsys, "explain", "template:new-service", "-c", str(config), "--format", "json"
    )
    shown = json.loads(out)
    assert (shown["served"], shown["documents"][0]["document"]) == (False, 2)
    assert run(capsys, "explain", "component:nobody", "-c", str(config))[0] == 1

    code, out, _ = run(capsys, "export", "-c", str(config))
    kinds = sorted(doc["kind"] for doc in yaml.safe_load_all(out) if doc)
    assert kinds == ["Component", "Group"]


def test_publishers_hold_back_what_the_current_policy_does_not_allow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_world(tmp_path)
    assert run(capsys, "sync", "-c", str(config))[0] == 0
    assert (tmp_path / "out" / "default" / "group" / "team-a.yaml").exists()
    # The policy narrows; the store still holds the group until the next sync.
    write_world(tmp_path, kinds="Component, API")
    code, out, err = run(capsys, "export", "-c", str(config))
    assert code == 0
    assert [doc["kind"] for doc in yaml.safe_load_all(out) if doc] == ["Component"]
    assert "held back group:default/team-a" in err
    assert run(capsys, "sync", "-c", str(config))[0] == 0
    assert not (tmp_path / "out" / "default" / "group" / "team-a.yaml").exists()
    code, out, _ = run(capsys, "explain", "group:team-a", "-c", str(config))
    assert "NOT served" in out and "unsupported-kind" in out


def test_history_names_the_commit_and_file_that_changed_an_entity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> str:
        env = {
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@e",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@e",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "PATH": "/usr/bin:/bin",
        }
        done = subprocess.run(
            ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    git("init", "-q", "-b", "main")
    (repo / "catalog-info.yaml").write_text(f"{GROUP}---\n{COMPONENT}")
    git("add", "-A")
    git("commit", "-qm", "one")
    config = tmp_path / "trueup.yaml"
    config.write_text(
        "database: sqlite:///trueup.db\n"
        f"sources:\n  - {{id: catalog, type: git, url: {repo}, branch: main}}\n"
    )
    assert run(capsys, "sync", "-c", str(config))[0] == 0
    (repo / "catalog-info.yaml").write_text(
        f"{GROUP}---\n{COMPONENT.replace('team-a}', 'team-b}')}"
    )
    git("commit", "-qam", "two")
    head = git("rev-parse", "HEAD")
    assert run(capsys, "sync", "-c", str(config))[0] == 0
    _code, out, _ = run(capsys, "history", "payments", "-c", str(config), "--format", "json")
    revisions = json.loads(out)["revisions"]
    assert revisions[0]["cause"].endswith(
        "first seen in repo@" + revisions[0]["cause"].split("repo@")[1]
    )
    assert f"changed by repo@{head[:12]}:catalog-info.yaml#1 (spec.owner)" in revisions[1]["cause"]
    _, out, _ = run(capsys, "history", "payments", "-c", str(config))
    assert f"repo@{head[:12]}:catalog-info.yaml#1" in out
