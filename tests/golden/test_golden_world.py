"""A golden world of real-world catalog files, read from a real git repository.

``tests/golden/world/catalog`` holds what public catalog repositories hold: a
Location that reaches further files, APIs whose definitions are ``$text``/
``$json``/``$yaml`` placeholders (one reading a URL into the same repository,
one leading out of it), a Template and a custom kind (one valid, one not, each),
a kind outside the policy, Kubernetes manifests that ``**/*.yaml`` picks up, an
entity repeated in documents 9 and 10 of one file; the test adds a generated
file of 10,000 entities (about 4 MB). It is committed to a git repository with
fixed dates (so commits are the same on every run), synced through the git
source into SQLite, and what trueup serves and finds is pinned in
``tests/golden/expected``.

Regenerate after an intended change with ``TRUEUP_UPDATE_GOLDEN=1 pytest
tests/golden`` and review the diff like code.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from trueup.backstage_config import emission_policy
from trueup.config import Config, parse_config
from trueup.feed import render_yaml
from trueup.model.ref import parse_ref
from trueup.pipeline import SyncOutcome, sync
from trueup.sinks.publish import publishable
from trueup.store import Store
from trueup.world.generated_catalog import generated_name, write_generated_catalog

HERE = Path(__file__).parent
EXPECTED = HERE / "expected"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
GENERATED = 10_000
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_AUTHOR_DATE": "2026-12-01T08:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-12-01T08:00:00+00:00",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}
FULL = [
    "api:default/orders-api",
    "component:default/payments",
    "component:default/payments-worker",
    "template:default/new-service",
    "app:default/checkout-app",
]


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **_GIT_ENV},
        timeout=120,
    )
    return result.stdout.strip()


def config_for(root: Path, repo: Path) -> Config:
    text = f"""
database: sqlite:///{root / "trueup.db"}
data_dir: {root / "data"}
public_url: https://trueup.example.com
sources:
  - id: catalog
    type: git
    url: {repo}
    branch: main
    include: ["**/*.yaml"]
    web: {{base: "https://github.com/acme/catalog", host: github}}
backstage:
  kinds: [Component, API, Resource, System, Domain, Group, User, Template, App]
  custom_kinds:
    - kind: App
      api_versions: [acme.io/v1]
      schema: {HERE / "world" / "schemas" / "app.schema.json"}
checks:
  required_fields: {{}}
"""
    return parse_config(text, "golden.yaml", {}, root)


class GoldenWorld:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = root / "catalog"
        shutil.copytree(HERE / "world" / "catalog", self.repo)
        self.size = write_generated_catalog(self.repo / "generated" / "all.yaml", GENERATED)
        git(self.repo, "init", "-q", "-b", "main")
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", "catalog")
        self.config = config_for(root, self.repo)
        self.store = Store.open(self.config.database)
        self.store.upgrade()
        self.outcome: SyncOutcome = sync(self.config, self.store, now=lambda: NOW)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    built = GoldenWorld(tmp_path_factory.mktemp("golden"))
    yield built
    built.store.close()


def check(name: str, data: object) -> None:
    path = EXPECTED / f"{name}.json"
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    if os.environ.get("TRUEUP_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if not path.exists():
        pytest.fail(f"{path} is missing: run with TRUEUP_UPDATE_GOLDEN=1 to create it")
    assert json.loads(text) == json.loads(path.read_text(encoding="utf-8"))


def test_the_world_syncs_whole(world: GoldenWorld) -> None:
    assert world.outcome.exit_code == 0
    assert 4_000_000 <= world.size <= 5_000_000  # a generated file of realistic size, read whole
    result = world.outcome.result
    assert result is not None
    generated = [r for r in result.entities if r.name.startswith("generated-service-")]
    assert len(generated) == GENERATED
    assert all(result.entities[r].emitted for r in generated)


def test_entities_and_their_findings_match_golden(world: GoldenWorld) -> None:
    result = world.outcome.result
    assert result is not None
    summary = {
        str(ref): {
            "emitted": e.emitted,
            "score": e.score,
            "findings": sorted(f"{f.severity.value} {f.code}: {f.message}" for f in e.findings),
        }
        for ref, e in result.entities.items()
        if not ref.name.startswith("generated-service-")
    }
    check("entities", summary)


def test_file_findings_and_ignored_documents_match_golden(world: GoldenWorld) -> None:
    result = world.outcome.result
    assert result is not None
    check(
        "files",
        {
            "findings": [
                {
                    "code": f.code,
                    "severity": f.severity.value,
                    "subject": f.subject,
                    "message": f.message,
                    "locator": f.evidence.get("locator"),
                }
                for f in result.findings
            ],
            "ignored": world.outcome.ignored,
        },
    )


@pytest.mark.parametrize("ref", FULL)
def test_assembled_entity_matches_golden(world: GoldenWorld, ref: str) -> None:
    result = world.outcome.result
    assert result is not None
    entity = result.entities[parse_ref(ref)]
    check(ref.replace(":", "_").replace("/", "_"), entity.to_json())


def test_the_feed_holds_every_entity_backstage_accepts_and_nothing_else(
    world: GoldenWorld,
) -> None:
    held: list[Any] = []
    policy = emission_policy(world.config.backstage)
    rows = list(publishable(world.store.feed_rows(), policy, held))
    assert held == []
    refs = [str(row.ref) for row in rows]
    assert len(refs) == len(set(refs))
    served = [r for r in refs if "generated-service-" not in r]
    feed = "".join(render_yaml(rows)).encode()
    check(
        "feed",
        {
            "served": served,
            "generated": {
                "count": len(refs) - len(served),
                "first": f"component:default/{generated_name(0)}",
                "last": f"component:default/{generated_name(GENERATED - 1)}",
            },
            "sha256": hashlib.sha256(feed).hexdigest(),
        },
    )
    assert f"component:default/{generated_name(GENERATED - 1)}" in refs
    for never in ("location:default/more", "pipeline:default/release", "app:default/bad-app"):
        assert never not in refs
