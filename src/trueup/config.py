"""The configuration file (``trueup.yaml``): typed models and loading.

SPEC section 2 is the contract. ``${VAR}`` is replaced from the environment;
secrets are ``SecretStr`` and never printed. Unknown keys are errors naming the
key and its line. Called by the CLI and the server. What ``trueup config
show`` may print is decided in :mod:`trueup.redaction`, which every secret of a
loaded configuration feeds (:func:`~trueup.redaction.register_config`).

The file is read through :mod:`trueup.path_policy` (a regular file, 1 MiB at
most) and parsed by :mod:`trueup.parse.config_yaml`, the bounded, safe YAML of
catalog files. An empty file is an error: a run with nothing configured would
report success while doing nothing. The database URL and ``public_url`` are
checked here, so every command refuses them before it starts.

Sources, sinks and checks own their configuration models (in their plugin
packages, on the bases in :mod:`trueup.config_model`): the ``sources:`` and
``sinks:`` lists are read as the model that each item's ``type:`` names, among
the plugins the registry (:mod:`trueup.plugins`) found, and ``checks:`` holds
one section per registered check. Nothing here names a plugin.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Never, Union

import sqlalchemy as sa
from pydantic import (
    Field,
    PrivateAttr,
    SerializeAsAny,
    TypeAdapter,
    ValidationError,
    WrapValidator,
    create_model,
    field_validator,
    model_validator,
)

from trueup.backstage_config import BackstageConfig
from trueup.config_model import (
    ChecksConfig,
    ConfigModel,
    Duration,
    LocalPaths,
    SinkConfig,
    SourceConfig,
    VersionOrder,
    expand_user,
    parse_duration,
    web_url,
)
from trueup.errors import ConfigError
from trueup.parse.config_yaml import MAX_CONFIG_BYTES, config_document, line_of
from trueup.path_policy import Refusal, read_file
from trueup.plugins import Registry, registry
from trueup.redaction import MASK, register_config
from trueup.server_config import ServerConfig, TokenConfig, WebhookSecretConfig

DEFAULT_CONFIG = "trueup.yaml"
# Substituted values shorter than this are not masked by ``redacted``: they
# would mask common words, and are no credible secret.
_MIN_MASKED = 4
_SQLITE = re.compile(r"^(sqlite(?:\+\w+)?:///)(.*)$", re.DOTALL)

__all__ = [
    "DEFAULT_CONFIG",
    "ChecksConfig",
    "Config",
    "Duration",
    "MergeConfig",
    "SafetyConfig",
    "ServerConfig",
    "SinkConfig",
    "SourceConfig",
    "TokenConfig",
    "WebhookSecretConfig",
    "load_config",
    "parse_config",
    "parse_duration",
]


# --- plugin configurations, by ``type:`` ---------------------------------------


@functools.cache
def _union(kind: Literal["source", "sink"], registry: Registry) -> TypeAdapter[Any]:
    """One discriminated union (on ``type``) of the registered plugins' config models."""
    plugins = registry.sources if kind == "source" else registry.sinks
    models = tuple(plugin.config for plugin in plugins.values())
    if not models:
        return TypeAdapter(Never)
    if len(models) == 1:
        return TypeAdapter(models[0])
    union: Any = Union[models]  # noqa: UP007 - the members are known only at run time
    tagged: Any = Annotated[union, Field(discriminator="type")]
    return TypeAdapter(tagged)


def _by_type(kind: Literal["source", "sink"]) -> Any:
    """A validator that reads a list item as the config model its ``type:`` names."""

    base = SourceConfig if kind == "source" else SinkConfig

    def validate(value: Any, handler: Any) -> Any:
        if isinstance(value, base):
            return value  # built in code (tests, the demo): already validated
        return _union(kind, registry()).validate_python(value)

    return WrapValidator(validate)


@functools.cache
def _checks_model(registry: Registry) -> type[ChecksConfig]:
    """``checks:`` with one section per registered check, each the check's own model."""
    sections: dict[str, Any] = {
        name: (plugin.config, Field(default_factory=plugin.config))
        for name, plugin in registry.checks.items()
    }
    return create_model("ChecksConfig", __base__=ChecksConfig, **sections)


def _checks(value: Any, handler: Any) -> Any:
    if isinstance(value, ChecksConfig):
        return value
    if isinstance(value, dict) and "required_fields" in value:
        # ``checks.required_fields`` is the completeness check's setting, as first spelt.
        value = dict(value)
        section = dict(value.get("completeness") or {})
        section.setdefault("required_fields", value.pop("required_fields"))
        value["completeness"] = section
    return _checks_model(registry()).model_validate(value)


AnySource = Annotated[SerializeAsAny[SourceConfig], _by_type("source")]
AnySink = Annotated[SerializeAsAny[SinkConfig], _by_type("sink")]


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


class MergeConfig(ConfigModel):
    precedence: dict[str, list[str]] = {}


class SafetyConfig(ConfigModel):
    max_removal_ratio: float = Field(0.5, ge=0.0, le=1.0)
    accept_removals: list[str] = []


class Config(ConfigModel):
    database: str = "sqlite:///trueup.db"
    # How long a write waits for another writer (SQLite) before the command fails (exit 2).
    database_lock_timeout: Duration = timedelta(minutes=10)
    public_url: str | None = None
    data_dir: str = ".trueup"  # clones, caches and ETags; relative to the config file
    # Processes forked at a sync's start to share its large parts (a cold sync's): a
    # file source's many files, the assembly of many entities, a directory sink's full
    # pass. Faster with a free CPU, at the cost of more CPU and memory in all.
    assembly_workers: int = Field(1, ge=1, le=64)
    sources: list[AnySource] = []
    merge: MergeConfig = MergeConfig()
    safety: SafetyConfig = SafetyConfig()
    checks: Annotated[SerializeAsAny[ChecksConfig], WrapValidator(_checks)] = ChecksConfig()
    sinks: list[AnySink] = []
    backstage: BackstageConfig = BackstageConfig()
    server: ServerConfig = ServerConfig()
    # Every value that ``${VAR}`` substitution put into this configuration (at
    # least _MIN_MASKED long): masked in the configuration shown (``config show``),
    # and wherever they appear when part of a secret (``register_config``).
    _substituted: frozenset[str] = PrivateAttr(default_factory=frozenset)

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        return database_url(value)

    @field_validator("database_lock_timeout", mode="before")
    @classmethod
    def _lock_timeout(cls, value: object) -> object:
        timeout = parse_duration(value)
        if timeout < timedelta(0):  # 0s is meaningful: fail at once when locked
            raise ValueError("must not be negative (0s: fail at once when another writer holds it)")
        return timeout

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

    def source_data_dir(self, source_id: str, data_dir: Path | None = None) -> Path:
        """The data folder of one source (its clones and caches), under ``data_dir``."""
        return (data_dir or Path(self.data_dir)) / "sources" / source_id

    def order_versions(
        self, source_id: str, scope: str, version: str, other: str, data_dir: Path | None = None
    ) -> VersionOrder | None:
        """Where ``version`` of a scope stands against ``other`` in its history, when the
        source can tell (:meth:`SourceConfig.order_versions`); None otherwise."""
        source = next((s for s in self.sources if s.id == source_id), None)
        if source is None or not version:
            return None
        where = self.source_data_dir(source_id, data_dir)
        return source.order_versions(where, scope, version, other)


# --- loading -----------------------------------------------------------------


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, substitute and validate a config file. Raises ConfigError naming the file.

    The file is read through :mod:`trueup.path_policy`: a regular file of at most
    1 MiB (a FIFO or a device named by ``-c`` is refused, never opened for
    reading). Local paths in it are made absolute against the file's own folder,
    whatever the working directory and however ``path`` is spelt (relative, ``~``).
    """
    path = expand_user(Path(path))
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
    YAML of catalog files. An empty file is an error.
    """
    document = config_document(text, filename, environ)
    try:
        config = Config.model_validate(document.data)
    except ValidationError as exc:
        values = [v for v in document.environment_values if len(v) >= _MIN_MASKED]
        masked = sorted(values, key=len, reverse=True)
        raise ConfigError(_explain(exc, filename, document.lines, masked)) from None
    if base is not None:
        config = _resolve_paths(config, base)
    used = document.environment_values
    config._substituted = frozenset(v for v in used if len(v) >= _MIN_MASKED)
    register_config(config)
    return config


def _explain(
    exc: ValidationError, filename: str, lines: Mapping[Any, int], substituted: list[str]
) -> str:
    """One ``FILE:LINE: KEY: what is wrong`` line per error.

    A message may quote the value it refused (a duration, a type); any ``${VAR}``
    value in it is masked (``substituted``, longest first): it may be a secret
    set in the wrong key, and the redaction layer learns the configuration's
    secrets only once it has loaded.
    """
    messages = []
    for error in exc.errors():
        loc = _without_union_tag(tuple(error["loc"]))
        kind: Literal["source", "sink"] = "sink" if loc[:1] == ("sinks",) else "source"
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = (*loc, "type")
        line = line_of(lines, loc)
        key = ".".join(str(part) for part in loc) or "(root)"
        if error["type"] == "extra_forbidden":
            messages.append(f"{filename}:{line}: unknown key {key!r}")
            continue
        if error["type"] == "union_tag_invalid":
            tag = str((error.get("ctx") or {}).get("tag", ""))
            detail = registry().unknown_type(kind, tag)
        elif error["type"] == "union_tag_not_found":
            known = registry().sources if kind == "source" else registry().sinks
            detail = f"missing (one of: {', '.join(known)})"
        else:
            detail = error["msg"].removeprefix("Value error, ")
        for value in substituted:
            detail = detail.replace(value, MASK)
        messages.append(f"{filename}:{line}: {key}: {detail}")
    return "\n".join(messages)


def _without_union_tag(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """``sources.1.git.url`` → ``sources.1.url``: pydantic names the union member it tried."""
    if len(loc) >= 3 and loc[0] in ("sources", "sinks") and isinstance(loc[1], int):
        plugins = registry().sources if loc[0] == "sources" else registry().sinks
        if loc[2] in plugins:
            return (*loc[:2], *loc[3:])
    return loc


def _resolve_paths(config: Config, base: Path) -> Config:
    """Relative file paths in the config are relative to the config file.

    Every local path comes out absolute; URLs are left as they are. A plugin's
    model knows which of its keys are paths (``with_local_paths``).
    """
    paths = LocalPaths(expand_user(base).resolve())
    local = paths.local
    sources = [source.with_local_paths(paths) for source in config.sources]
    sinks = [sink.with_local_paths(paths) for sink in config.sinks]
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
