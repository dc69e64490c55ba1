"""A real Backstage catalog reads the hydrated mirror through its ``all.yaml`` (SPEC 6.2).

``trueup hydrate`` writes the demo world into a mirror repository; a checkout
of it is registered with the catalog as one ``file`` location, ``all.yaml``,
whose relative targets name every entity file. The catalog must ingest every
entity the feed serves, plus the Location itself, with no error at all.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.backstage.conftest import Export
from tests.backstage.harness import run_catalog
from trueup.cli import main
from trueup.world import DemoWorld


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=120)


def test_a_real_catalog_ingests_the_mirror_with_no_error(
    demo: DemoWorld, demo_export: Export, tmp_path: Path
) -> None:
    git(tmp_path, "init", "-q", "--bare", "-b", "main", "mirror.git")
    mirror = tmp_path / "mirror.git"
    assert main(["hydrate", "-c", str(demo.config), "--mirror", str(mirror), "--push"]) == 0
    git(tmp_path, "clone", "-q", "--branch", "main", str(mirror), "checkout")

    report = run_catalog(tmp_path / "checkout" / "all.yaml")

    assert report.problems() == []
    assert report.ingested == demo_export.refs | {"location:default/trueup-hydrated"}
    assert report.orphans == ()
