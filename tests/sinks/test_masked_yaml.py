"""A secret that fills a whole YAML scalar is masked without breaking the YAML.

The feed's YAML writes a string plain when it can (``build: deadbeef…``). Masked
as text, that scalar would begin with ``*``, which YAML reads as an alias: the
document stops parsing, and Backstage refuses the whole location with it. Every
publisher (``trueup export``, the feed, the sinks) must give valid YAML, whether
the secret was known when the entity was stored or learnt after.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from trueup.cli import main
from trueup.redaction import KNOWN_SECRETS

SECRET = "Deadbeefcafe0042feed"
LATER = "Latecomer-credential-77"
COMPONENT = f"""\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments
  annotations:
    example.com/build: {SECRET}
    example.com/other: {LATER}
  tags: [{SECRET.lower()}]
spec: {{type: service, lifecycle: production, owner: team-a}}
"""


def _documents(text: str) -> list[dict[str, object]]:
    return [d for d in yaml.safe_load_all(text) if d]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "payments.yaml").write_text(COMPONENT)
    (tmp_path / "trueup.yaml").write_text(
        "sources:\n  - {id: catalog, type: file, path: catalog}\n"
        "sinks:\n  - {type: directory, path: out}\n"
        "server:\n  tokens:\n    - {name: ci, role: read, token: '${READ_TOKEN}'}\n"
    )
    monkeypatch.setenv("READ_TOKEN", SECRET)
    return tmp_path


def test_export_and_sink_files_stay_yaml_when_a_whole_scalar_is_masked(
    world: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(world / "trueup.yaml")
    assert main(["sync", "-c", config]) == 0
    [written] = (world / "out").rglob("payments.yaml")
    KNOWN_SECRETS.add(LATER)  # learnt after the entity was stored
    capsys.readouterr()
    assert main(["export", "-c", config]) == 0
    exported = capsys.readouterr().out

    [entity] = _documents(written.read_text())
    assert entity["metadata"]["annotations"]["example.com/build"] == "**********"  # type: ignore[index]
    [entity] = _documents(exported)
    annotations = entity["metadata"]["annotations"]  # type: ignore[index]
    assert annotations["example.com/build"] == annotations["example.com/other"] == "**********"
    assert SECRET not in exported and LATER not in exported
