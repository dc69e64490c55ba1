"""The bases every configuration model builds on, and what the engine asks of a plugin's model.

Sources, sinks and checks own their configuration models (SPEC section 11): a
plugin's model subclasses :class:`SourceConfig`, :class:`SinkConfig` or
:class:`CheckConfig` from here and lives in the plugin's own package.
:mod:`trueup.config` assembles the file's model from the registered ones. Every
model is frozen and refuses unknown keys (the loader names the key and its line),
and its boolean settings are :data:`YamlBool`: only ``true`` or ``false``.

Whatever the engine needs to know about a configured source beyond its
``observe`` is a method here with a neutral default, which a plugin's model
overrides — never an ``isinstance`` test on a plugin's class elsewhere:

- :meth:`SourceConfig.with_local_paths` / :meth:`SinkConfig.with_local_paths`:
  make the paths it holds absolute against the configuration file's folder;
- :meth:`SourceConfig.tracked_branch`: the one repository branch it reads as
  intent (drift compares deployed revisions with that branch's head; the git
  mirror sink refuses to write into that repository);
- :meth:`SourceConfig.reads_repository`: whether a ``url`` Location target into
  another repository is this source's to read;
- :meth:`SourceConfig.order_versions`: which of two versions of one of its
  scopes came first in that scope's history (the git mirror sink never writes
  a hydration of older sources over a newer one).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator

from trueup.errors import ConfigError
from trueup.model.finding import Severity
from trueup.model.repository import TrackedBranch
from trueup.parse.config_yaml import EnvironmentText

if TYPE_CHECKING:
    from trueup.sources.base import WatchedSource

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
# A remote git address: ``scheme://…``, ``user@host:path`` or ``host:path``.
_REMOTE_GIT = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[^/]+@|^[^/:]{2,}:")


def parse_duration(value: object) -> timedelta:
    """``30s``, ``10m``, ``1h``, ``2d`` or a number of seconds, from 0 to 100 years."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 10m, 1h, 2d)")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError("must not be negative")
    if not seconds <= _LONGEST:  # NaN and infinity too
        raise ValueError(f"{value!r} is too long for a duration (at most 36500d)")
    return timedelta(seconds=seconds)


_LONGEST = 100 * 365 * 86400.0


def duration_text(value: timedelta) -> str:
    """A duration as ``trueup.yaml`` writes it (``90s``, ``10m``, ``1h``, ``2d``, ``0.5s``):
    what ``config show`` prints reads back the same."""
    seconds = value.total_seconds()
    for unit in ("d", "h", "m", "s"):
        count = seconds / _UNITS[unit]
        if count == int(count) and (count or unit == "s"):
            return f"{int(count)}{unit}"
    return f"{seconds:g}s"


Duration = Annotated[
    timedelta,
    Field(json_schema_extra={"format": "duration"}),
    PlainSerializer(duration_text, return_type=str, when_used="json"),
]


def web_url(value: str | None) -> str | None:
    """An ``http(s)://host[:port]/…`` URL, or ValueError saying what is wrong.

    Never echoes the URL: it may hold a password. Plugins' models use it for
    their URL keys (``api_url``, ``endpoint_url``), the configuration for ``public_url``.
    """
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


# YAML 1.2's core schema: the only spellings of a boolean.
_YAML_BOOLEANS = {
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
}


def yaml_boolean(value: object) -> bool:
    """``true`` or ``false`` as YAML 1.2 reads them; ValueError for anything else.

    ``yes``, ``on``, ``"true"`` and ``1`` are no booleans in YAML 1.2 (as
    ``owner: no`` stays ``"no"`` in a catalog file), so a setting does not guess
    what they meant. A value given wholly by one ``${VAR}``
    (:class:`~trueup.parse.config_yaml.EnvironmentText`) is read as YAML would
    read it in its place: an environment variable has no other way to give one.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, EnvironmentText):
        if value in _YAML_BOOLEANS:
            return _YAML_BOOLEANS[value]
        raise ValueError(  # not echoed: the variable may hold a secret set here by mistake
            "must be true or false (as YAML 1.2 spells them); its environment variable "
            "holds other text"
        )
    if isinstance(value, str):
        what = f"the text {value!r}"
    elif isinstance(value, int | float):
        what = f"the number {value!r}"
    else:
        what = "null" if value is None else f"a {type(value).__name__}"
    raise ValueError(
        f"must be true or false, unquoted, not {what} (the configuration is YAML 1.2: "
        "yes, no, on, off and quoted values are text)"
    )


# A boolean setting: only ``true`` or ``false`` (:func:`yaml_boolean`).
YamlBool = Annotated[bool, BeforeValidator(yaml_boolean)]


class ConfigModel(BaseModel):
    """A frozen configuration model that refuses unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def expand_user(path: Path) -> Path:
    """``~`` expanded; a ConfigError when there is no home directory to expand it with."""
    try:
        return path.expanduser()
    except RuntimeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


@dataclass(frozen=True)
class LocalPaths:
    """Makes a configuration's local paths absolute against the configuration file's folder."""

    base: Path

    def local(self, value: str) -> str:
        """A file path made absolute (``~`` expanded); a URL (``scheme://``) as it is."""
        if "://" in value:
            return value
        expanded = expand_user(Path(value))
        if expanded.is_absolute():
            return str(expanded)
        return os.path.normpath(expand_user(self.base).resolve() / expanded)

    def git(self, url: str) -> str:
        """A local repository path made absolute; a remote address as it is."""
        return url if _REMOTE_GIT.match(url) else self.local(url)


class VersionOrder(Enum):
    """Where one version of a scope stands against another in that scope's history."""

    BEFORE = "before"  # an ancestor of the other: older
    AFTER = "after"  # a descendant of the other: newer
    APART = "apart"  # neither (a force-push rewrote the history between them)


class SourceConfig(ConfigModel):
    """The keys every source has. A plugin's model adds its own and ``type: Literal[...]``."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    interval: Duration = timedelta(minutes=10)
    max_age: Duration | None = None
    type: str

    @field_validator("interval", "max_age", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return None if value is None else parse_duration(value)

    @field_validator("interval")
    @classmethod
    def _some_interval(cls, value: timedelta) -> timedelta:
        if not value:
            raise ValueError("must be more than 0 (a source read again at once, forever)")
        return value

    def with_local_paths(self, paths: LocalPaths) -> Self:
        """This configuration with its local paths made absolute (none by default)."""
        return self

    def tracked_branch(self) -> TrackedBranch | None:
        """The one repository branch this source reads as intent, if it reads one."""
        return None

    def reads_repository(self, key: str) -> bool:
        """Whether this source reads the repository ``key`` (``host/owner/name``, lower case)."""
        return False

    def file_url(self, repo: str, commit: str, path: str) -> str | None:
        """The web page of a file this source read at ``commit``, if it knows one (none)."""
        return None

    def order_versions(
        self, data_dir: Path, scope: str, version: str, other: str
    ) -> VersionOrder | None:
        """Where ``version`` of ``scope`` stands against ``other`` in the scope's history.

        ``data_dir`` is the source's data folder (its clones). None when this
        source cannot tell (by default: only read times order its versions).
        """
        return None

    def watched(self) -> bool:
        """Whether a server keeps this source current by watching it, not by polling (no)."""
        return False

    def watched_scopes(self) -> list[tuple[str, str | None]]:
        """The scopes a server watches, each with the problem that stops it, if any (none)."""
        return []

    def watch(self, scope: str) -> WatchedSource:
        """The watch that keeps one of :meth:`watched_scopes` current."""
        raise NotImplementedError(f"source {self.id} is not watched")

    def announces(self, kind: str) -> bool:
        """Whether notifications about objects of ``kind`` (an Argo CD ``Application``)
        name objects this source reads, so such a notification refreshes it (no)."""
        return False

    def setup_problems(self) -> list[str]:
        """What ``trueup config check`` finds wrong in what this source points to.

        As ``sync`` would find it (a folder that does not exist, a kubeconfig
        context it could not use), without running or reaching anything. Each
        problem is ``key: what is wrong``; none by default.
        """
        return []


def pattern_root_problem(key: str, pattern: str) -> list[str]:
    """The folder a local path or glob starts from must exist (its matches may come later)."""
    if "://" in pattern:
        return []
    if not any(c in pattern for c in "*?["):
        return [] if Path(pattern).exists() else [f"{key}: {pattern} does not exist"]
    fixed = pattern[: min(pattern.find(c) for c in "*?[" if c in pattern)]
    folder = Path(fixed[: fixed.rfind("/") + 1] or ".")
    return [] if folder.is_dir() else [f"{key}: the folder {folder} does not exist"]


class SinkConfig(ConfigModel):
    """The keys every sink has. A plugin's model adds its own and ``type: Literal[...]``."""

    type: str

    def with_local_paths(self, paths: LocalPaths) -> Self:
        """This configuration with its local paths made absolute (none by default)."""
        return self


class CheckConfig(ConfigModel):
    """A check's settings, under ``checks.<name>:``. A check with none uses this as it is."""


class ChecksConfig(ConfigModel):
    """``checks:``: severities by finding code, and one section per check that has settings.

    :mod:`trueup.config` extends this with the sections of the registered checks.
    """

    severity: dict[str, Severity] = {}

    def section(self, name: str, model: type[CheckConfig]) -> CheckConfig:
        """The settings of the check ``name``: as configured, else ``model``'s defaults."""
        configured = getattr(self, name, None)
        return configured if isinstance(configured, CheckConfig) else model()
