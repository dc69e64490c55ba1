"""``${VAR}`` values: a secret where the configuration holds secrets, plain data elsewhere.

A value substituted into a path or an organisation name is not a secret: masking
it everywhere would rewrite the catalog (``trueup.io/sources: **********`` is not
even YAML). Secrets are the values of secret fields and URL credentials, and any
``${VAR}`` value inside one of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from trueup.cli import main
from trueup.config import parse_config
from trueup.redaction import redact_text

COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: payments}
spec: {type: service, lifecycle: production, owner: team-a}
"""


def test_a_path_from_the_environment_is_data_not_a_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "payments.yaml").write_text(COMPONENT)
    (tmp_path / "trueup.yaml").write_text(
        "sources:\n  - {id: catalog, type: file, path: '${CATALOG_DIR}'}\n"
    )
    monkeypatch.setenv("CATALOG_DIR", "catalog")
    config = str(tmp_path / "trueup.yaml")

    assert main(["sync", "-c", config]) == 0
    capsys.readouterr()
    assert main(["export", "-c", config]) == 0
    out = capsys.readouterr().out

    [entity] = [e for e in yaml.safe_load_all(out) if e]
    annotations = entity["metadata"]["annotations"]
    assert annotations["trueup.io/sources"] == "catalog"
    assert annotations["backstage.io/source-location"].endswith("/catalog/")
    assert "*" not in out


def test_secret_fields_url_credentials_and_their_parts_stay_masked(tmp_path: Path) -> None:
    env = {
        "GH_TOKEN": "ghp_0123456789abcdef",
        "TF_USER": "deployer",
        "TF_PART": "part-of-a-password",
        "MIRROR_TOKEN": "mirror-token-0123",
        "ORG": "acme-platform",
    }
    parse_config(
        "sources:\n"
        "  - {id: gh, type: github, org: '${ORG}', token: '${GH_TOKEN}'}\n"
        "  - id: tf\n"
        "    type: terraform\n"
        "    state: 'https://tf.example.com/state'\n"
        "    username: '${TF_USER}'\n"
        "    password: 'x-${TF_PART}-y'\n"
        "sinks:\n"
        "  - {type: git, url: 'https://${MIRROR_TOKEN}@github.com/acme/mirror.git'}\n",
        str(tmp_path / "trueup.yaml"),
        env,
        tmp_path,
    )
    shown = redact_text(
        "ghp_0123456789abcdef / part-of-a-password / mirror-token-0123 / acme-platform / deployer"
    )
    assert shown == "********** / ********** / ********** / acme-platform / deployer"
