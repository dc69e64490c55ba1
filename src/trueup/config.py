"""The configuration file (``trueup.yaml``): typed models and loading.

SPEC section 2 is the contract. ``${VAR}`` is replaced from the environment;
secrets are ``SecretStr`` and never printed. Unknown keys are errors naming the
key and its line. Called by the CLI and the server; sources get their own
config model from here. What ``trueup config show`` may print is decided in
:mod:`trueup.redaction`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import sqlalchemy as sa
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from trueup.errors import ConfigError
from trueup.model.finding import Severity
from trueup.parse.config_yaml import MAX_CONFIG_BYTES, config_document, line_of
from trueup.path_policy import Refusal, read_file
from trueup.redaction import register_config

DEFAULT_CONFIG = "trueup.yaml"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
# Substituted values shorter than this are not masked by ``redacted``: they
# would mask common words, and are no credible secret.
_MIN_MASKED = 4
# A remote git address: ``scheme://…``, ``user@host:path`` or ``host:path``.
_REMOTE_GIT = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[^/]+@|^[^/:]{2,}:")
_SQLITE = re.compile(r"^(sqlite(?:\+\w+)?:///)(.*)$", re.DOTALL)


def parse_duration(value: object) -> timedelta:
    """``30s``, ``10m``, ``1h``, ``2d`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 10m, 1h, 2d)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


Duration = Annotated[timedelta, Field(json_schema_extra={"format": "duration"})]


def web_url(value: str | None) -> str | None:
    """An ``http(s)://host[:port]/…`` URL, or ValueError saying what is wrong (never echoing it:
    it may hold a password)."""
    if value is None:
        return value
    try:
        parts = urlsplit(value)
        port = parts.port  # ValueError for a port that is not a number in range
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("is not an http:// or https:// URL with a host")
    del port
    return value


def database_url(value: str) -> str:
    """A SQLAlchemy URL for SQLite or PostgreSQL, or ValueError (never echoing it)."""
    try:
        backend = sa.make_url(value).get_backend_name()
    except (sa.exc.ArgumentError, ValueError):
        raise ValueError(
            "is not a database URL (e.g. sqlite:///trueup.db or postgresql+psycopg://user@host/db)"
        ) from None
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"names the {backend!r} backend; trueup stores in SQLite or PostgreSQL")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _SourceBase(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    interval: Duration = timedelta(minutes=10)
    max_age: Duration | None = None

    @field_validator("interval", "max_age", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return None if value is None else parse_duration(value)


class FileSourceConfig(_SourceBase):
    type: Literal["file"]
    path: str
    include: list[str] = ["**/*.yaml", "**/*.yml"]


class GitSourceConfig(_SourceBase):
    type: Literal["git"]
    url: str
    branch: str = "main"
    include: list[str] = ["**/catalog-info.yaml"]
    timeout: Duration = timedelta(minutes=5)  # one git command (clone, fetch) at most

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: object) -> object:
        return parse_duration(value)


class GithubSourceConfig(_SourceBase):
    """Discovery over an organisation's repositories (or a list/globs of ``owner/name``)."""

    type: Literal["github"]
    org: str | None = None
    repositories: list[str] = []  # ``owner/name`` or globs such as ``acme/*-service``
    token: SecretStr | None = None
    api_url: str = "https://api.github.com"
    # Paths or globs (``**/catalog-info.yaml``) read in every repository.
    catalog_path: str | list[str] = "catalog-info.yaml"
    branch: str | None = None  # None: each repository's default branch
    include_archived: bool = False
    # Read file contents with ``git fetch`` instead of the API: no rate limit is
    # spent on contents, worth it for repositories with many catalog files.
    use_git_for_content: bool = False
    timeout: Duration = timedelta(seconds=30)  # one HTTP request at most
    max_retry_wait: Duration = timedelta(seconds=60)  # longer waits fail the scope instead
    max_retries: int = Field(3, ge=0, le=10)  # for secondary rate limits, then degraded
    per_page: int = Field(100, ge=1, le=100)

    @field_validator("timeout", "max_retry_wait", mode="before")
    @classmethod
    def _durations(cls, value: object) -> object:
        return parse_duration(value)

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str | None:
        return web_url(value)

    @property
    def catalog_paths(self) -> list[str]:
        paths = self.catalog_path
        return [paths] if isinstance(paths, str) else list(paths)


class MappingConfig(_Model):
    """A declarative mapping (SPEC 4.4): a kind, a selector, expressions.

    Expressions are JMESPath (default) or jq over the whole object; see
    ``docs/mappings.md``. They are compiled when the source is built.
    """

    name: str | None = None  # shown in errors; default "<apiVersion> <kind>"
    api_version: str = Field(alias="apiVersion")
    kind: str
    selector: str | None = None  # a label selector, sent to the server
    language: Literal["jmespath", "jq"] = "jmespath"
    entity_kind: str = "component"  # the kind of a ref written without one
    ref: str
    fields: dict[str, str] = {}
    status: dict[str, str] = {}
    links: dict[str, str] = {}  # annotation key -> expression of its value
    link_selectors: list[str] = []  # annotation keys holding a label selector
    place: str | None = None  # default: "<cluster>/<namespace>"


class KubernetesSourceConfig(_SourceBase):
    type: Literal["kubernetes"]
    kubeconfig: str | None = None
    contexts: list[str] = []  # each one scope; none: every context of the kubeconfig
    # Run a context's exec credential plugin or auth-provider command (README, Security).
    allow_exec: bool = False
    snapshot: str | None = None
    collect: list[Literal["workloads", "argocd", "crossplane"]] = [
        "workloads",
        "argocd",
        "crossplane",
    ]
    mappings: list[MappingConfig] = []
    max_age: Duration | None = timedelta(minutes=15)
    namespaces: list[str] = []  # read only these namespaces; none: all (cluster-wide lists)
    page_size: int = Field(500, ge=1, le=10000)
    connect_timeout: Duration = timedelta(seconds=10)
    request_timeout: Duration = timedelta(seconds=60)  # one list page or discovery request
    max_retries: int = Field(3, ge=0, le=20)  # per request, on 429 / 5xx
    max_retry_wait: Duration = timedelta(seconds=60)  # a longer Retry-After fails the read
    watch_timeout: Duration = timedelta(minutes=5)  # timeoutSeconds asked of the server
    watch_idle_timeout: Duration | None = None  # silent stream deadline; default timeout+30s
    watch_refresh: Duration = timedelta(minutes=1)  # re-stamp observations of a healthy watch
    rediscover_interval: Duration = timedelta(minutes=5)  # new CRDs/XRDs in watch mode

    @field_validator(
        "connect_timeout",
        "request_timeout",
        "max_retry_wait",
        "watch_timeout",
        "watch_idle_timeout",
        "watch_refresh",
        "rediscover_interval",
        mode="before",
    )
    @classmethod
    def _durations(cls, value: object) -> object:
        return None if value is None else parse_duration(value)


class TerraformMappingConfig(_Model):
    """A rule that links Terraform resource instances to entities (SPEC 4.3).

    Every match key given must match (``*`` matches any text, ``?`` one
    character); a rule without match keys matches every instance. Of all the
    rules that match, the first that sets ``name``, ``owner`` or ``system`` sets
    it, and every ``component`` counts.
    """

    state: str | None = None  # glob on the scope name, e.g. "prod/*"
    type: str | None = None  # glob on the resource type, e.g. "aws_db_*"
    address: str | None = None  # glob on the instance address, e.g. "module.payments.*"
    tags: dict[str, str] = {}  # tag or label key -> glob on its value
    component: str | None = None  # the entity it is a dependency of (default kind component)
    name: str | None = None  # the Resource entity's name, e.g. a declared one to enrich
    owner: str | None = None
    system: str | None = None


class TerraformSourceConfig(_SourceBase):
    type: Literal["terraform"]
    # A path or glob of local files, s3://bucket/key (or s3://bucket/prefix/*.tfstate),
    # or the http(s):// address of a Terraform HTTP state backend.
    state: str
    owner: str | None = None
    max_age: Duration | None = timedelta(hours=24)
    # s3://: any S3-compatible endpoint; credentials come from the usual AWS chain
    # (environment, shared files, profile), never from this file.
    endpoint_url: str | None = None
    region: str | None = None
    # http(s)://: optional basic auth and headers (e.g. Authorization: Bearer ${TOKEN}).
    username: str | None = None
    password: SecretStr | None = None
    headers: dict[str, SecretStr] = {}
    timeout: Duration = timedelta(seconds=30)
    max_state_size: int = Field(256 * 1024 * 1024, ge=1)  # bytes; a larger state is refused
    include_types: list[str] = ["*"]  # globs on resource types that become entities
    exclude_types: list[str] = []
    mappings: list[TerraformMappingConfig] = []

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: object) -> object:
        return parse_duration(value)

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        return web_url(value)


SourceConfig = Annotated[
    FileSourceConfig
    | GitSourceConfig
    | GithubSourceConfig
    | KubernetesSourceConfig
    | TerraformSourceConfig,
    Field(discriminator="type"),
]


class MergeConfig(_Model):
    precedence: dict[str, list[str]] = {}


class SafetyConfig(_Model):
    max_removal_ratio: float = Field(0.5, ge=0.0, le=1.0)
    accept_removals: list[str] = []


class ChecksConfig(_Model):
    severity: dict[str, Severity] = {}
    required_fields: dict[str, list[str]] = {
        "Component": ["metadata.description", "spec.lifecycle", "spec.system"],
        "API": ["metadata.description", "spec.lifecycle", "spec.system"],
        "Resource": ["metadata.description", "spec.system"],
        "System": ["metadata.description"],
    }


class GitSinkConfig(_Model):
    type: Literal["git"]
    url: str
    branch: str = "main"


class DirectorySinkConfig(_Model):
    type: Literal["directory"]
    path: str


SinkConfig = Annotated[GitSinkConfig | DirectorySinkConfig, Field(discriminator="type")]


class TokenConfig(_Model):
    name: str
    role: Literal["read", "admin"]
    token: SecretStr


class WebhookSecretConfig(_Model):
    secret: SecretStr | None = None
    secrets: list[SecretStr] = []
    token: SecretStr | None = None


class ServerConfig(_Model):
    listen: str = "127.0.0.1:7007"
    public_feed: bool = False
    tokens: list[TokenConfig] = []
    webhooks: dict[Literal["github", "gitlab", "argocd"], WebhookSecretConfig] = {}


class Config(_Model):
    database: str = "sqlite:///trueup.db"
    # How long a write waits for another writer (SQLite) before the command fails (exit 2).
    database_lock_timeout: Duration = timedelta(minutes=10)
    public_url: str | None = None
    data_dir: str = ".trueup"  # clones, caches and ETags; relative to the config file
    sources: list[SourceConfig] = []
    merge: MergeConfig = MergeConfig()
    safety: SafetyConfig = SafetyConfig()
    checks: ChecksConfig = ChecksConfig()
    sinks: list[SinkConfig] = []
    server: ServerConfig = ServerConfig()
    # Every value that ``${VAR}`` substitution put into this configuration (at
    # least _MIN_MASKED long): ``redacted`` masks them wherever they appear.
    _substituted: frozenset[str] = PrivateAttr(default_factory=frozenset)

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        return database_url(value)

    @field_validator("database_lock_timeout", mode="before")
    @classmethod
    def _lock_timeout(cls, value: object) -> object:
        return parse_duration(value)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        return web_url(value)

    @field_validator("sources")
    @classmethod
    def _unique_ids(cls, sources: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for source in sources:
            if source.id in seen:
                raise ValueError(f"source id {source.id!r} is used twice")
            seen.add(source.id)
        return sources

    @model_validator(mode="after")
    def _known_sources(self) -> Config:
        """Precedence and released removals may only name configured sources."""
        known = {source.id for source in self.sources}
        for pattern, ids in self.merge.precedence.items():
            for source_id in ids:
                if source_id not in known:
                    raise ValueError(
                        f"merge.precedence[{pattern!r}] names {source_id!r}, which is no source id"
                    )
        for name in self.safety.accept_removals:
            if name.split("/", 1)[0] not in known:
                raise ValueError(f"safety.accept_removals names {name!r}, which is no source id")
        return self

    def source(self, source_id: str) -> SourceConfig:
        for source in self.sources:
            if source.id == source_id:
                return source
        raise ConfigError(f"no source with id {source_id!r}")


# --- loading -----------------------------------------------------------------


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, substitute and validate a config file. Raises ConfigError naming the file.

    The file is read through :mod:`trueup.path_policy`: a regular file of at most
    1 MiB (a FIFO or a device named by ``-c`` is refused, never opened for
    reading). Local paths in it are made absolute against the file's own folder,
    whatever the working directory and however ``path`` is spelt (relative, ``~``).
    """
    path = _expand(Path(path))
    data = read_file(path, max_bytes=MAX_CONFIG_BYTES)
    if isinstance(data, Refusal):
        raise ConfigError(f"{path}: cannot read the configuration: it {data.reason}")
    environ = os.environ if environ is None else environ
    return parse_config(data, str(path), environ, path.parent.resolve())


def parse_config(
    text: str | bytes, filename: str, environ: Mapping[str, str], base: Path | None = None
) -> Config:
    """Substitute and validate config text; ``base`` (if given) anchors relative paths.

    Parsed by :func:`trueup.parse.config_yaml.config_document`: the bounded, safe
    YAML of catalog files. An empty file is an error: a run with nothing
    configured would report success while doing nothing.
    """
    document = config_document(text, filename, environ)
    try:
        config = Config.model_validate(document.data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, filename, document.lines)) from None
    if base is not None:
        config = _resolve_paths(config, base)
    used = document.environment_values
    config._substituted = frozenset(v for v in used if len(v) >= _MIN_MASKED)
    register_config(config)
    return config


def _explain(exc: ValidationError, filename: str, lines: Mapping[Any, int]) -> str:
    messages = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
        line = line_of(lines, loc)
        key = ".".join(str(part) for part in loc) or "(root)"
        if error["type"] == "extra_forbidden":
            text = f"unknown key {key!r}"
        else:
            text = f"{key}: {error['msg'].removeprefix('Value error, ')}"
        messages.append(f"{filename}:{line}: {text}")
    return "\n".join(messages)


def _is_union_tag(part: object) -> bool:
    return isinstance(part, str) and part in (
        "file",
        "git",
        "github",
        "kubernetes",
        "terraform",
        "directory",
    )


def _expand(path: Path) -> Path:
    try:
        return path.expanduser()
    except RuntimeError as exc:  # no home directory to expand ``~`` with
        raise ConfigError(f"{path}: {exc}") from exc


def _resolve_paths(config: Config, base: Path) -> Config:
    """Relative file paths in the config are relative to the config file.

    Every local path comes out absolute; URLs are left as they are.
    """
    base = _expand(base).resolve()

    def local(value: str) -> str:
        if "://" in value:
            return value
        expanded = _expand(Path(value))
        if expanded.is_absolute():
            return str(expanded)
        return os.path.normpath(base / expanded)

    def git(url: str) -> str:
        return url if _REMOTE_GIT.match(url) else local(url)

    sources: list[Any] = []
    for source in config.sources:
        update: dict[str, Any] = {}
        if isinstance(source, FileSourceConfig):
            update["path"] = local(source.path)
        if isinstance(source, KubernetesSourceConfig):
            if source.snapshot:
                update["snapshot"] = local(source.snapshot)
            if source.kubeconfig:
                update["kubeconfig"] = local(source.kubeconfig)
        if isinstance(source, TerraformSourceConfig):
            update["state"] = local(source.state)
        if isinstance(source, GitSourceConfig):
            update["url"] = git(source.url)
        sources.append(source.model_copy(update=update))
    sinks: list[Any] = []
    for sink in config.sinks:
        if isinstance(sink, DirectorySinkConfig):
            sinks.append(sink.model_copy(update={"path": local(sink.path)}))
        elif isinstance(sink, GitSinkConfig):
            sinks.append(sink.model_copy(update={"url": git(sink.url)}))
        else:
            sinks.append(sink)
    database = config.database
    sqlite = _SQLITE.match(database)
    if sqlite:
        target, query = sqlite.group(2).partition("?")[::2]
        if target and target != ":memory:" and not target.startswith("file:"):
            database = sqlite.group(1) + local(target) + (f"?{query}" if query else "")
    return config.model_copy(
        update={
            "sources": sources,
            "sinks": sinks,
            "database": database,
            "data_dir": local(config.data_dir),
        }
    )
