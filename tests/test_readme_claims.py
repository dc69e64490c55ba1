"""What README.md and docs/*.md tell a platform engineer, run against the real commands.

Each test pins one statement of the documentation that a run found untrue (the
code or the text was fixed with it): real git repositories and SQLite files in
temporary folders, the command line through :func:`trueup.cli.main`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from trueup.cli import main

COMPONENT = (
    "apiVersion: backstage.io/v1alpha1\n"
    "kind: Component\n"
    "metadata: {name: payments, description: pays}\n"
    "spec: {type: service, lifecycle: production, owner: team-pay, system: pay}\n"
)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def catalog_repository(folder: Path) -> Path:
    """A source repository with one catalog file on ``main``."""
    folder.mkdir(parents=True)
    git(folder, "init", "-q", "-b", "main")
    (folder / "catalog-info.yaml").write_text(COMPONENT)
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "one component")
    return folder


def hydrate_config(folder: Path, source: Path) -> Path:
    folder.mkdir(parents=True)
    config = folder / "trueup.yaml"
    config.write_text(f"sources:\n  - id: catalog\n    type: git\n    url: {source}\n")
    return config


# README, Commands: `trueup hydrate --mirror URL_OR_PATH`. A path on the command line
# is the working directory's, as `-o FILE` and `init DIR` are.


def test_hydrate_takes_a_mirror_path_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = catalog_repository(tmp_path / "catalog")
    config = hydrate_config(tmp_path / "ci", source)
    (tmp_path / "mirror.git").mkdir()
    git(tmp_path / "mirror.git", "init", "-q", "--bare", "-b", "main")
    monkeypatch.chdir(tmp_path)

    assert main(["hydrate", "-c", str(config), "--mirror", "mirror.git", "--check"]) == 3
    assert main(["hydrate", "-c", str(config), "--mirror", "mirror.git", "--push"]) == 0
    files = git(tmp_path / "mirror.git", "ls-tree", "-r", "--name-only", "main").split()
    assert files == ["all.yaml", "default/component/payments.yaml"]
    assert main(["hydrate", "-c", str(config), "--mirror", "mirror.git", "--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_a_relative_mirror_path_that_is_the_source_repository_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = catalog_repository(tmp_path / "catalog")
    config = hydrate_config(tmp_path / "ci", source)
    monkeypatch.chdir(tmp_path)

    assert main(["hydrate", "-c", str(config), "--mirror", "catalog", "--push"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "the mirror is the repository that source 'catalog' reads" in err


# README, Commands: "Every command that reads a configuration (all but `init`, `plugins`
# and `demo`) takes `-c/--config FILE`".


def test_every_command_but_init_plugins_and_demo_takes_config() -> None:
    import typer.main

    from trueup.cli import app

    def leaves(command: Any, prefix: str = "") -> dict[str, Any]:
        children = getattr(command, "commands", None)  # a group (Typer's own click types)
        if children is None:
            return {prefix.strip(): command}
        found: dict[str, Any] = {}
        for name, child in children.items():
            found.update(leaves(child, f"{prefix}{name} "))
        return found

    without = {
        name
        for name, command in leaves(typer.main.get_command(app)).items()
        if not any({"-c", "--config"} <= set(p.opts) for p in command.params)
    }
    assert without == {"init", "plugins", "demo"}


# examples/ci/trueup.yaml: `trueup config check` passes as shipped (its clusters source,
# commented out, is checked in tests/test_ci_examples.py).

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "ci"


def test_the_ci_example_passes_config_check_as_shipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "trueup.yaml"
    config.write_text((EXAMPLES / "trueup.yaml").read_text())
    monkeypatch.setenv("MIRROR_TOKEN", "ghp_exampletoken123")

    # As shipped it reads only the checkout (its clusters source is commented out until
    # a job step writes exports): config check passes.
    assert main(["config", "check", "-c", str(config)]) == 0
    assert "ok (1 sources, 1 sinks)" in capsys.readouterr().out


# README, Findings: a catalog file's entity without spec.owner is refused as
# `invalid-entity` (rule `required`), before the checks that would call it `missing-owner`.


def test_a_catalog_file_without_an_owner_is_refused_as_invalid_entity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "catalog-info.yaml").write_text(
        COMPONENT.replace(", owner: team-pay", "")
    )
    config = tmp_path / "trueup.yaml"
    config.write_text("sources:\n  - id: catalog\n    type: file\n    path: catalog\n")
    assert main(["sync", "-c", str(config)]) == 0
    capsys.readouterr()

    assert main(["check", "-c", str(config), "--format", "json"]) == 3
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert [(f["code"], f["evidence"].get("rule")) for f in findings] == [
        ("invalid-entity", "required")
    ]
