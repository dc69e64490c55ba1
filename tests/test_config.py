"""The configuration contract of SPEC section 2: keys, substitution, errors, redaction."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from trueup.config import (
    FileSourceConfig,
    GithubSourceConfig,
    KubernetesSourceConfig,
    load_config,
    parse_config,
    redacted,
)
from trueup.errors import ConfigError

SPEC_EXAMPLE = """\
database: sqlite:///trueup.db
public_url: https://trueup.example.com
sources:
  - id: catalog
    type: git
    url: https://github.com/acme/catalog.git
    branch: main
    include: ["**/catalog-info.yaml", "catalog/**/*.yaml"]
    interval: 10m
  - id: github-acme
    type: github
    org: acme
    token: ${GITHUB_TOKEN}
    catalog_path: catalog-info.yaml
  - id: hub
    type: kubernetes
    kubeconfig: ~/.kube/config
    contexts: [hub, prod-eu, prod-us]
    collect: [workloads, argocd, crossplane]
    mappings: []
    max_age: 15m
  - id: snapshots
    type: kubernetes
    snapshot: exports/*
  - id: infra
    type: terraform
    state: states/**/*.tfstate
    owner: group:default/platform
merge:
  precedence:
    "spec.owner": [catalog, github-acme, hub]
    "*": [catalog, github-acme, hub, snapshots, infra]
safety:
  max_removal_ratio: 0.5
sinks:
  - type: git
    url: ../catalog-hydrated
    branch: main
  - type: directory
    path: out/catalog
server:
  listen: 127.0.0.1:7007
  tokens:
    - {name: backstage, role: read, token: ${TRUEUP_READ_TOKEN}}
    - {name: ops, role: admin, token: ${TRUEUP_ADMIN_TOKEN}}
  webhooks:
    github: {secret: ${GITHUB_WEBHOOK_SECRET}}
    gitlab: {token: ${GITLAB_WEBHOOK_TOKEN}}
    argocd: {token: ${ARGOCD_WEBHOOK_TOKEN}}
"""
SECRETS = {
    "GITHUB_TOKEN": "ghp_secret_token_value",
    "TRUEUP_READ_TOKEN": "read-secret-1",
    "TRUEUP_ADMIN_TOKEN": "admin-secret-2",
    "GITHUB_WEBHOOK_SECRET": "hook-secret-3",
    "GITLAB_WEBHOOK_TOKEN": "gitlab-secret-4",
    "ARGOCD_WEBHOOK_TOKEN": "argo-secret-5",
}


def test_the_spec_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "trueup.yaml"
    path.write_text(SPEC_EXAMPLE)
    config = load_config(path, SECRETS)
    assert [s.id for s in config.sources] == ["catalog", "github-acme", "hub", "snapshots", "infra"]
    hub = config.sources[2]
    assert isinstance(hub, KubernetesSourceConfig)
    assert hub.contexts == ["hub", "prod-eu", "prod-us"] and hub.max_age == timedelta(minutes=15)
    github = config.sources[1]
    assert isinstance(github, GithubSourceConfig) and github.token is not None
    assert github.token.get_secret_value() == "ghp_secret_token_value"
    snapshots = config.sources[3]
    assert isinstance(snapshots, KubernetesSourceConfig)
    assert snapshots.snapshot == str(tmp_path / "exports/*")  # relative to the config file
    assert config.database == f"sqlite:///{tmp_path / 'trueup.db'}"
    assert config.merge.precedence["spec.owner"] == ["catalog", "github-acme", "hub"]


def test_secrets_never_appear_in_the_redacted_view() -> None:
    config = parse_config(SPEC_EXAMPLE, "trueup.yaml", SECRETS)
    text = repr(redacted(config)) + repr(config)
    for secret in SECRETS.values():
        assert secret not in text


def test_a_password_in_the_database_url_is_redacted() -> None:
    config = parse_config("database: postgresql+psycopg://app:hunter2@db/trueup\n", "t.yaml", {})
    assert "hunter2" not in repr(redacted(config))
    assert redacted(config)["database"] == "postgresql+psycopg://app:**********@db/trueup"


def test_an_environment_value_cannot_inject_yaml() -> None:
    config = parse_config(
        "sources:\n  - {id: gh, type: github, org: acme, token: ${T}}\n",
        "t.yaml",
        {"T": "a: b\n- c"},
    )
    source = config.sources[0]
    assert isinstance(source, GithubSourceConfig) and source.token is not None
    assert source.token.get_secret_value() == "a: b\n- c"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "sources:\n  - id: c\n    type: file\n    path: x\n    inclde: [a]\n",
            "t.yaml:5: unknown key 'sources.0.inclde'",
        ),
        ("databse: x\n", "t.yaml:1: unknown key 'databse'"),
        ("safety:\n  max_removal_ratio: 2\n", "t.yaml:2: safety.max_removal_ratio"),
        ("token: ${NOT_SET}\n", "environment variable NOT_SET is not set"),
        (
            "sources:\n  - id: a\n    type: file\n    path: x\n"
            "  - id: a\n    type: file\n    path: y\n",
            "used twice",
        ),
        ("sources:\n  - id: a\n    type: cvs\n", "does not match any of the expected tags"),
        (
            "sources:\n  - id: c\n    type: file\n    path: x\n    interval: soon\n",
            "is not a duration",
        ),
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("merge:\n  precedence:\n    '*': [nope]\n", "names 'nope', which is no source id"),
        ("safety:\n  accept_removals: [ghost/x]\n", "names 'ghost/x', which is no source id"),
        ("- a\n", "must be a mapping"),
        ("a: [\n", "not valid YAML"),
    ],
)
def test_bad_configuration_names_the_file_line_and_key(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "t.yaml", {})
    assert expected in str(info.value)


def test_yaml_1_2_scalars_in_config() -> None:
    config = parse_config(
        "sources:\n  - id: 'no'\n    type: file\n    path: on\n    include: [yes]\n", "t.yaml", {}
    )
    source = config.sources[0]
    assert isinstance(source, FileSourceConfig)
    assert source.id == "no" and source.path == "on" and source.include == ["yes"]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml", {})
