"""The configuration contract of SPEC section 2: keys, substitution, errors, redaction."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from trueup.config import load_config, parse_config
from trueup.errors import ConfigError
from trueup.redaction import redacted
from trueup.sinks.directory.config import DirectorySinkConfig
from trueup.sinks.git.config import GitSinkConfig
from trueup.sources.file.config import FileSourceConfig
from trueup.sources.git.config import GitSourceConfig
from trueup.sources.github.config import GithubSourceConfig
from trueup.sources.kubernetes.config import KubernetesSourceConfig
from trueup.sources.terraform.config import TerraformSourceConfig

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
  listen: 127.0.0.1:8470
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
        (
            "sources:\n  - id: a\n    type: cvs\n",
            "t.yaml:3: sources.0.type: unknown source type 'cvs' (available: file, git, github,",
        ),
        ("sources:\n  - id: a\n    path: x\n", "t.yaml:2: sources.0.type: missing (one of: file,"),
        (
            "sinks:\n  - type: git\n    url: x\n    brnch: main\n",
            "t.yaml:4: unknown key 'sinks.0.brnch'",
        ),
        (
            "checks:\n  completeness:\n    required_field: {}\n",
            "t.yaml:3: unknown key 'checks.completeness.required_field'",
        ),
        ("checks:\n  relashuns: {}\n", "t.yaml:2: unknown key 'checks.relashuns'"),
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


# --- relative paths ------------------------------------------------------------

RELATIVE_PATHS = """\
database: sqlite:///trueup.db
sources:
  - id: files
    type: file
    path: catalog
  - id: repo
    type: git
    url: repos/catalog
  - id: remote
    type: git
    url: git@github.com:acme/catalog.git
  - id: snapshots
    type: kubernetes
    snapshot: exports/*
    kubeconfig: kube/config
  - id: infra
    type: terraform
    state: states/**/*.tfstate
  - id: s3
    type: terraform
    state: s3://bucket/prod/*.tfstate
sinks:
  - type: directory
    path: out/catalog
  - type: git
    url: ../mirror
  - type: git
    url: git@github.com:acme/hydrated.git
"""


def test_local_paths_are_absolute_when_the_config_path_is_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "trueup.yaml").write_text(RELATIVE_PATHS)
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("conf/trueup.yaml"), {})
    monkeypatch.chdir("/")  # nothing depends on the working directory any more
    files, repo, remote, snapshots, infra, s3 = config.sources
    directory, mirror, hydrated = config.sinks
    assert isinstance(files, FileSourceConfig) and files.path == str(conf / "catalog")
    assert isinstance(repo, GitSourceConfig) and repo.url == str(conf / "repos/catalog")
    assert isinstance(snapshots, KubernetesSourceConfig)
    assert snapshots.snapshot == str(conf / "exports/*")
    assert snapshots.kubeconfig == str(conf / "kube/config")
    assert isinstance(infra, TerraformSourceConfig)
    assert infra.state == str(conf / "states/**/*.tfstate")
    assert isinstance(directory, DirectorySinkConfig)
    assert directory.path == str(conf / "out/catalog")
    assert isinstance(mirror, GitSinkConfig) and mirror.url == str(tmp_path / "mirror")
    assert config.database == f"sqlite:///{conf / 'trueup.db'}"
    assert config.data_dir == str(conf / ".trueup")
    local = [
        files.path,
        repo.url,
        snapshots.snapshot,
        snapshots.kubeconfig,
        infra.state,
        directory.path,
        mirror.url,
        config.database.removeprefix("sqlite:///"),
        config.data_dir,
    ]
    for path in local:
        assert path is not None and Path(path).is_absolute(), path
        assert Path(path).is_relative_to(tmp_path), path
    # Addresses are no local paths: they are left as they are.
    assert isinstance(remote, GitSourceConfig) and remote.url == "git@github.com:acme/catalog.git"
    assert isinstance(s3, TerraformSourceConfig) and s3.state == "s3://bucket/prod/*.tfstate"
    assert isinstance(hydrated, GitSinkConfig)
    assert hydrated.url == "git@github.com:acme/hydrated.git"


def test_a_config_in_the_working_directory_gives_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "trueup.yaml").write_text(RELATIVE_PATHS)
    monkeypatch.chdir(tmp_path)
    config = load_config("trueup.yaml", {})
    assert config.data_dir == str(tmp_path / ".trueup")
    assert config.database == f"sqlite:///{tmp_path / 'trueup.db'}"
    mirror = config.sinks[1]
    assert isinstance(mirror, GitSinkConfig) and mirror.url == str(tmp_path.parent / "mirror")


def test_a_config_path_with_a_tilde_is_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "trueup.yaml").write_text("sources:\n  - {id: f, type: file, path: c}\n")
    config = load_config("~/trueup.yaml", {})
    source = config.sources[0]
    assert isinstance(source, FileSourceConfig) and source.path == str(tmp_path / "c")


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/catalog.git",
        "ssh://git@github.com/acme/catalog.git",
        "git@github.com:acme/catalog.git",
        "github.com:acme/catalog.git",
        "file:///srv/git/catalog.git",
    ],
)
def test_remote_git_urls_are_left_as_they_are(tmp_path: Path, url: str) -> None:
    text = (
        f"sources:\n  - {{id: c, type: git, url: '{url}'}}\n"
        f"sinks:\n  - {{type: git, url: '{url}'}}\n"
    )
    config = parse_config(text, "t.yaml", {}, tmp_path)
    source, sink = config.sources[0], config.sinks[0]
    assert isinstance(source, GitSourceConfig) and source.url == url
    assert isinstance(sink, GitSinkConfig) and sink.url == url


# --- redaction of secrets in plain strings ---------------------------------------


@pytest.mark.parametrize(
    ("text", "environ", "readable"),
    [
        (
            "database: postgresql+psycopg://:${PGPASS}@db/x\n",
            {"PGPASS": "pg-pass-word"},
            ["postgresql+psycopg://", "@db/x"],
        ),
        (
            "sources:\n  - id: c\n    type: git\n"
            "    url: https://x-access-token:${GIT_TOKEN}@github.com/acme/catalog.git\n",
            {"GIT_TOKEN": "ghs_0123456789abcdef"},
            ["x-access-token:", "@github.com/acme/catalog.git"],
        ),
        (
            "sources:\n  - id: tf\n    type: terraform\n"
            "    state: https://tf:${TF_PASS}@state.example.com/x?token=${TF_TOKEN}\n",
            {"TF_PASS": "tf-pass-word", "TF_TOKEN": "tf-token-value"},
            ["https://tf:", "@state.example.com/x?token="],
        ),
        (
            "sinks:\n  - type: git\n    url: https://${GIT_TOKEN}@github.com/acme/mirror.git\n",
            {"GIT_TOKEN": "ghp_abcdefghijklmnop"},
            ["https://", "@github.com/acme/mirror.git"],
        ),
    ],
)
def test_substituted_secrets_in_urls_are_redacted(
    text: str, environ: dict[str, str], readable: list[str]
) -> None:
    config = parse_config(text, "trueup.yaml", environ)
    shown = repr(redacted(config))
    for secret in environ.values():
        assert secret not in shown
    for part in readable:
        assert part in shown
    assert "**********" in shown


def test_literal_credentials_in_urls_are_redacted() -> None:
    text = (
        "database: postgresql://app:p@ss:word@db.example.com/trueup?sslpassword=s3cret\n"
        "public_url: https://trueup.example.com/ui\n"
        "sources:\n"
        "  - id: c\n    type: git\n    url: https://ghp_literaltoken@github.com/acme/c.git\n"
        "  - id: o\n    type: git\n    url: https://ghp_oauthtoken:x-oauth-basic@github.com/a/o\n"
        "  - id: tf\n    type: terraform\n"
        "    state: https://state.example.com/x?token=abc123def&lock=xyz789#frag\n"
    )
    data = redacted(parse_config(text, "trueup.yaml", {}))
    shown = repr(data)
    for secret in ("p@ss:word", "ss:word", "s3cret", "ghp_literaltoken", "ghp_oauthtoken"):
        assert secret not in shown
    assert "abc123def" not in shown and "xyz789" not in shown
    assert data["database"] == (
        "postgresql://app:**********@db.example.com/trueup?sslpassword=**********"
    )
    assert data["public_url"] == "https://trueup.example.com/ui"
    assert data["sources"][0]["url"] == "https://**********@github.com/acme/c.git"
    assert data["sources"][1]["url"] == "https://**********@github.com/a/o"
    assert data["sources"][2]["state"] == (
        "https://state.example.com/x?token=**********&lock=**********#frag"
    )


def test_every_substituted_value_is_masked_but_short_ones() -> None:
    text = (
        "sources:\n"
        "  - id: tf\n    type: terraform\n    state: states/*.tfstate\n"
        "    username: ${TF_USER}\n    owner: group:default/${TEAM}\n"
        "  - id: gh\n    type: github\n    org: acme\n    token: ${GITHUB_TOKEN}\n"
    )
    environ = {"TF_USER": "user-secret-name", "TEAM": "ops", "GITHUB_TOKEN": "ghp_xyz_token"}
    config = parse_config(text, "trueup.yaml", environ)
    data = redacted(config)
    assert data["sources"][0]["username"] == "**********"
    assert data["sources"][0]["owner"] == "group:default/ops"  # too short to be masked
    assert data["sources"][1]["token"] == "**********"
    assert "user-secret-name" not in repr(data) and "ghp_xyz_token" not in repr(data)
    # SecretStr values never show in the model's own repr either, nor does the
    # private record of substituted values.
    assert "ghp_xyz_token" not in repr(config) and "_substituted" not in repr(config)
    # The sources still read the real values.
    github = config.sources[1]
    assert isinstance(github, GithubSourceConfig) and github.token is not None
    assert github.token.get_secret_value() == "ghp_xyz_token"


def test_substituted_values_survive_path_resolution(tmp_path: Path) -> None:
    path = tmp_path / "trueup.yaml"
    path.write_text(
        "sources:\n  - id: c\n    type: git\n"
        "    url: https://x-access-token:${GIT_TOKEN}@github.com/acme/catalog.git\n"
    )
    config = load_config(path, {"GIT_TOKEN": "ghs_resolved_token"})
    source = config.sources[0]
    assert isinstance(source, GitSourceConfig) and "ghs_resolved_token" in source.url
    assert "ghs_resolved_token" not in repr(redacted(config))
