"""The CI hydration examples (``examples/ci``) are valid: the configuration loads, the jobs
run ``trueup hydrate`` on push, on a schedule and as a ``--check`` gate, and Backstage reads
the mirror's ``all.yaml``."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from trueup.config import load_config
from trueup.config_check import check_config
from trueup.redaction import redacted

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "ci"


def test_the_configuration_loads_with_a_mirror_sink_and_masks_its_token() -> None:
    config = load_config(EXAMPLES / "trueup.yaml", {"MIRROR_TOKEN": "ghp_exampletoken123"})
    # As shipped it reads only the checkout: a job that writes no exports still hydrates.
    assert [s.type for s in config.sources] == ["git"]
    (sink,) = config.sinks
    assert sink.type == "git"
    shown = yaml.safe_dump(redacted(config))
    assert "ghp_exampletoken123" not in shown
    assert "github.com/acme/catalog-hydrated.git" in shown


def test_the_clusters_source_is_checked_once_uncommented(tmp_path: Path) -> None:
    """In a checkout (here a copy of the file), as shipped it has no problem; with the
    clusters source uncommented, a missing exports/ folder is named, and once a job
    step writes exports there it loads."""
    text = (EXAMPLES / "trueup.yaml").read_text(encoding="utf-8")
    env = {"MIRROR_TOKEN": "ghp_exampletoken123"}
    (tmp_path / "trueup.yaml").write_text(text, encoding="utf-8")
    assert check_config(load_config(tmp_path / "trueup.yaml", env), "trueup.yaml") == []
    opened = re.sub(r"(?m)^  # (  |- )", r"  \1", text)
    assert opened != text
    (tmp_path / "trueup.yaml").write_text(opened, encoding="utf-8")
    config = load_config(tmp_path / "trueup.yaml", env)
    assert [s.type for s in config.sources] == ["git", "kubernetes"]
    assert any("exports" in p for p in check_config(config, "trueup.yaml"))
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "prod.json").write_text('{"kind": "List", "items": []}')
    assert check_config(load_config(tmp_path / "trueup.yaml", env), "trueup.yaml") == []


def test_github_actions_hydrates_on_push_and_schedule_and_checks_pull_requests() -> None:
    workflow = yaml.safe_load((EXAMPLES / "github-actions.yaml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["push"] == {"branches": ["main"]} and triggers["schedule"]
    steps = {step.get("name"): step for step in workflow["jobs"]["hydrate"]["steps"]}
    assert "trueup hydrate -c trueup.yaml --push" in steps["hydrate the mirror"]["run"]
    assert steps["check the mirror (pull requests)"]["run"] == (
        "trueup hydrate -c trueup.yaml --check"
    )


def test_gitlab_ci_hydrates_on_the_default_branch_and_schedule() -> None:
    pipeline = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())
    rules = [rule["if"] for rule in pipeline["hydrate"]["rules"]]
    assert '$CI_PIPELINE_SOURCE == "schedule"' in rules
    assert "trueup hydrate -c trueup.yaml --push" in pipeline["hydrate"]["script"][0]
    assert pipeline["check-mirror"]["script"] == ["trueup hydrate -c trueup.yaml --check"]


def test_backstage_reads_the_mirror_through_all_yaml() -> None:
    app_config = yaml.safe_load((EXAMPLES / "backstage-app-config.yaml").read_text())
    (location,) = app_config["catalog"]["locations"]
    assert location["type"] == "url" and location["target"].endswith("/blob/main/all.yaml")
    assert "Location" in location["rules"][0]["allow"]
