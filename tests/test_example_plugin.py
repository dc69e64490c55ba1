"""An outside plugin, installed as a package and loaded through the real entry-point mechanism.

``examples/plugins/trueup-inventory`` (one package, one entry-point line) is
installed with pip into a folder of its own, next to a package whose plugin
cannot be imported; trueup, run as a separate process with that folder on its
path, lists both (the broken one disabled, with the reason), syncs with the
new source type and refuses a configuration that names the disabled one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugins" / "trueup-inventory"
BROKEN_MODULE = 'raise ImportError("the ldap3 package is not installed")\n'
BROKEN_PROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "trueup-ldap"
version = "0.0.1"

[project.entry-points."trueup.sources"]
ldap = "trueup_ldap:PLUGIN"
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder with both packages installed by pip (no dependencies: trueup is there)."""
    root = tmp_path_factory.mktemp("plugins")
    broken = root / "trueup-ldap"
    (broken / "trueup_ldap").mkdir(parents=True)
    (broken / "trueup_ldap" / "__init__.py").write_text(BROKEN_MODULE)
    (broken / "pyproject.toml").write_text(BROKEN_PROJECT)
    target = root / "site"
    for package in (EXAMPLE, broken):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--disable-pip-version-check",
                "--target",
                str(target),
                str(package),
            ],
            check=True,
            capture_output=True,
            timeout=600,
            cwd=root,
        )
    yield target


def trueup(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-m", "trueup", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_an_installed_plugin_is_listed_and_a_broken_one_is_disabled(
    site: Path, tmp_path: Path
) -> None:
    listed = trueup(site, "plugins", "--format", "json", cwd=tmp_path)

    assert listed.returncode == 0, listed.stderr
    plugins = {(p["kind"], p["name"]): p for p in json.loads(listed.stdout)["plugins"]}
    assert plugins[("source", "inventory")] == {
        "kind": "source",
        "name": "inventory",
        "target": "trueup_inventory:PLUGIN",
        "distribution": "trueup-inventory 0.1.0",
        "enabled": True,
        "summary": "a CSV inventory of services (example plugin)",
        "reason": None,
    }
    assert plugins[("source", "ldap")]["enabled"] is False
    assert plugins[("source", "ldap")]["reason"] == (
        "cannot be loaded: ImportError: the ldap3 package is not installed"
    )
    assert plugins[("source", "git")]["enabled"] and plugins[("sink", "git")]["enabled"]


def test_a_sync_reads_the_new_source_type(site: Path, tmp_path: Path) -> None:
    (tmp_path / "inventory.csv").write_text(
        "name,owner,lifecycle,description\n"
        "payments,team-a,production,Takes the money\n"
        "search,team-b,experimental,Finds things\n"
    )
    (tmp_path / "trueup.yaml").write_text(
        "sources:\n  - id: services\n    type: inventory\n    path: inventory.csv\n"
        "sinks:\n  - type: directory\n    path: out\n"
    )

    synced = trueup(site, "sync", cwd=tmp_path)

    assert synced.returncode == 0, synced.stdout + synced.stderr
    exported = trueup(site, "export", cwd=tmp_path)
    documents = [d for d in yaml.safe_load_all(exported.stdout) if d]
    assert sorted(d["metadata"]["name"] for d in documents) == ["payments", "search"]
    payments = yaml.safe_load((tmp_path / "out/default/component/payments.yaml").read_text())
    assert payments["spec"] == {"type": "service", "owner": "team-a", "lifecycle": "production"}
    assert payments["metadata"]["annotations"]["trueup.io/sources"] == "services"


def test_a_configuration_naming_a_disabled_type_is_told_why(site: Path, tmp_path: Path) -> None:
    (tmp_path / "trueup.yaml").write_text(
        "sources:\n  - id: people\n    type: ldap\n    url: ldap://127.0.0.1\n"
    )

    checked = trueup(site, "config", "check", cwd=tmp_path)

    assert checked.returncode == 1
    message = " ".join(checked.stderr.split())
    assert (
        "trueup.yaml:3: sources.0.type: the source type 'ldap' is disabled: "
        "cannot be loaded: ImportError: the ldap3 package is not installed"
    ) in message
