"""The configuration file (``trueup.yaml``): typed models and loading.

SPEC section 2 is the contract. ``${VAR}`` is replaced from the environment;
secrets are ``SecretStr`` and never printed. Unknown keys are errors naming the
key and its line. Called by the CLI and the server. What ``trueup config
show`` may print is decided in :mod:`trueup.redaction`.

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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Never, Union

import yaml
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
    expand_user,
    parse_duration,
)
from trueup.errors import ConfigError
from trueup.plugins import Registry, registry
from trueup.server_config import ServerConfig, TokenConfig, WebhookSecretConfig

DEFAULT_CONFIG = "trueup.yaml"
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PLACEHOLDER = "TRUEUPENV0x"
_PLACED = re.compile(_PLACEHOLDER + r"([A-Za-z_][A-Za-z0-9_]*?)" + _PLACEHOLDER)
# Substituted values shorter than this are not masked by ``redacted``: they
# would mask common words, and are no credible secret.
_MIN_MASKED = 4
_SQLITE = re.compile(r"^(sqlite(?:\+\w+)?:///)(.*)$", re.DOTALL)

_Model = ConfigModel  # the base of this file's own models
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


class MergeConfig(_Model):
    precedence: dict[str, list[str]] = {}


class SafetyConfig(_Model):
    max_removal_ratio: float = Field(0.5, ge=0.0, le=1.0)
    accept_removals: list[str] = []


class Config(_Model):
    database: str = "sqlite:///trueup.db"
    public_url: str | None = None
    data_dir: str = ".trueup"  # clones, caches and ETags; relative to the config file
    sources: list[AnySource] = []
    merge: MergeConfig = MergeConfig()
    safety: SafetyConfig = SafetyConfig()
    checks: Annotated[SerializeAsAny[ChecksConfig], WrapValidator(_checks)] = ChecksConfig()
    sinks: list[AnySink] = []
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
    path = expand_user(Path(path))
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
        loc = _without_union_tag(tuple(error["loc"]))
        kind: Literal["source", "sink"] = "sink" if loc[:1] == ("sinks",) else "source"
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = (*loc, "type")
        line = None
        for cut in range(len(loc), -1, -1):
            line = lines.get(loc[:cut])
            if line is not None:
                break
        key = ".".join(str(part) for part in loc) or "(root)"
        if error["type"] == "extra_forbidden":
            text = f"unknown key {key!r}"
        elif error["type"] == "union_tag_invalid":
            tag = str((error.get("ctx") or {}).get("tag", ""))
            text = f"{key}: {registry().unknown_type(kind, tag)}"
        elif error["type"] == "union_tag_not_found":
            known = registry().sources if kind == "source" else registry().sinks
            text = f"{key}: missing (one of: {', '.join(known)})"
        else:
            text = f"{key}: {error['msg']}"
        messages.append(f"{filename}:{line or 1}: {text}")
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
