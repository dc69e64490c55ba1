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
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
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

from trueup.backstage_config import BackstageConfig, WebLinksConfig
from trueup.errors import ConfigError
from trueup.model.finding import Severity
from trueup.server_config import ServerConfig

DEFAULT_CONFIG = "trueup.yaml"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PLACEHOLDER = "TRUEUPENV0x"
_PLACED = re.compile(_PLACEHOLDER + r"([A-Za-z_][A-Za-z0-9_]*?)" + _PLACEHOLDER)
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
    web: WebLinksConfig | None = None  # default: guessed from the URL's host
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


class Config(_Model):
    database: str = "sqlite:///trueup.db"
    public_url: str | None = None
    data_dir: str = ".trueup"  # clones, caches and ETags; relative to the config file
    sources: list[SourceConfig] = []
    merge: MergeConfig = MergeConfig()
    safety: SafetyConfig = SafetyConfig()
    checks: ChecksConfig = ChecksConfig()
    sinks: list[SinkConfig] = []
    backstage: BackstageConfig = BackstageConfig()
    server: ServerConfig = ServerConfig()
    # Every value that ``${VAR}`` substitution put into this configuration (at
    # least _MIN_MASKED long): ``redacted`` masks them wherever they appear.
    _substituted: frozenset[str] = PrivateAttr(default_factory=frozenset)

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
    """Read, substitute and validate a config file. Raises ConfigError.

    Local paths in it are made absolute against the file's own folder, whatever
    the working directory and however ``path`` is spelt (relative, ``~``).
    """
    path = _expand(Path(path))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror}") from exc
    environ = os.environ if environ is None else environ
    return parse_config(text, str(path), environ, path.parent.resolve())


def parse_config(
    text: str, filename: str, environ: Mapping[str, str], base: Path | None = None
) -> Config:
    """Substitute and validate config text; ``base`` (if given) anchors relative paths."""
    # ``${VAR}`` is not valid inside a YAML flow mapping (``{token: ${X}}``, as
    # SPEC section 2 writes it), so it is swapped for a plain-scalar placeholder
    # before parsing and substituted in the parsed values: an environment value
    # can never inject YAML syntax.
    text = _ENV.sub(lambda m: f"{_PLACEHOLDER}{m.group(1)}{_PLACEHOLDER}", text)
    recording = _Recording(environ)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{filename}: not valid YAML: {exc}") from exc
    if node is None:
        data: Any = {}
        lines: dict[tuple[Any, ...], int] = {}
    else:
        lines = {}
        data = _build(node, (), lines, recording, filename)
    if not isinstance(data, dict):
        raise ConfigError(f"{filename}: the configuration must be a mapping")
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, filename, lines)) from None
    if base is not None:
        config = _resolve_paths(config, base)
    config._substituted = frozenset(v for v in recording.used if len(v) >= _MIN_MASKED)
    return config


class _Recording(Mapping[str, str]):
    """An environment that remembers which of its values were read."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.used: set[str] = set()

    def __getitem__(self, name: str) -> str:
        value = self._environ[name]
        self.used.add(value)
        return value

    def __contains__(self, name: object) -> bool:
        return name in self._environ

    def __iter__(self) -> Iterator[str]:
        return iter(self._environ)

    def __len__(self) -> int:
        return len(self._environ)


def _build(
    node: yaml.Node,
    path: tuple[Any, ...],
    lines: dict[tuple[Any, ...], int],
    environ: Mapping[str, str],
    filename: str,
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in out:
                raise ConfigError(
                    f"{filename}:{key_node.start_mark.line + 1}: duplicate key {key!r}"
                )
            out[key] = _build(value_node, (*path, key), lines, environ, filename)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, i), lines, environ, filename) for i, item in enumerate(node.value)
        ]
    value = str(node.value)
    if getattr(node, "style", None) is None:  # plain scalar: YAML 1.2 core schema, not 1.1
        if value in ("null", "~", ""):
            return None
        if value in ("true", "false"):
            return value == "true"
        if re.fullmatch(r"[-+]?\d+", value):
            return int(value)
        if re.fullmatch(r"[-+]?(\.\d+|\d+(\.\d*)?)([eE][-+]?\d+)?", value):
            return float(value)
    return _substitute(value, environ, f"{filename}:{node.start_mark.line + 1}")


def _substitute(value: str, environ: Mapping[str, str], where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise ConfigError(f"{where}: environment variable {name} is not set")
        return environ[name]

    return _PLACED.sub(replace, value)


def _explain(exc: ValidationError, filename: str, lines: dict[tuple[Any, ...], int]) -> str:
    messages = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
        line = None
        for cut in range(len(loc), -1, -1):
            line = lines.get(loc[:cut])
            if line is not None:
                break
        key = ".".join(str(part) for part in loc) or "(root)"
        if error["type"] == "extra_forbidden":
            text = f"unknown key {key!r}"
        else:
            text = f"{key}: {error['msg']}"
        messages.append(f"{filename}:{line or 1}: {text}")
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
    backstage = config.backstage.model_copy(
        update={
            "custom_kinds": [
                kind.model_copy(update={"schema_": local(kind.schema_)})
                if isinstance(kind.schema_, str)
                else kind
                for kind in config.backstage.custom_kinds
            ]
        }
    )
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
            "backstage": backstage,
        }
    )
