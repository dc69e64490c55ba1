"""The plugin registry: sources, sinks and checks, found through Python entry points.

SPEC section 11. An entry point in the group ``trueup.sources``,
``trueup.sinks`` or ``trueup.checks`` names a
:class:`~trueup.sources.base.SourcePlugin`, :class:`~trueup.sinks.base.SinkPlugin`
or :class:`~trueup.checks.base.CheckPlugin`: the plugin's own configuration
model and its factory. trueup's built-ins are registered in its own
``pyproject.toml`` exactly as an outside package registers its plugins, and
nothing here names one of them.

A plugin that cannot be used — its module fails to import, the entry point
names something of another shape, its ``type:`` differs from its name, or its
name is taken — is listed as disabled with the reason (``trueup plugins``) and
the others load as usual. A configuration that asks for a disabled type is
told why.

Called by :mod:`trueup.config` (which ``type:`` values exist and their models),
the pipeline (building sources, sinks and checks) and ``trueup plugins``.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal, cast

from trueup.checks.base import Check, CheckPlugin
from trueup.config_model import ChecksConfig, SinkConfig, SourceConfig
from trueup.errors import ConfigError
from trueup.sinks.base import Sink, SinkPlugin, SinkSetup
from trueup.sources.base import Source, SourcePlugin, SourceSetup

Kind = Literal["source", "sink", "check"]
GROUPS: Mapping[Kind, str] = {
    "source": "trueup.sources",
    "sink": "trueup.sinks",
    "check": "trueup.checks",
}
_SHAPES: Mapping[Kind, type] = {"source": SourcePlugin, "sink": SinkPlugin, "check": CheckPlugin}
# ``checks:`` keys that are no check's settings.
_RESERVED_CHECK_NAMES = frozenset({"severity", "required_fields", "section"})


@dataclass(frozen=True, slots=True)
class PluginEntry:
    """One entry point as ``trueup plugins`` lists it; ``reason`` is set when it is disabled."""

    kind: Kind
    name: str
    target: str  # ``module:attribute``
    distribution: str  # ``name version`` of the package that declares it
    summary: str = ""
    reason: str | None = None

    @property
    def enabled(self) -> bool:
        return self.reason is None


class Registry:
    """The usable plugins of each kind by name, and every entry point seen."""

    def __init__(
        self,
        sources: Mapping[str, SourcePlugin[Any]],
        sinks: Mapping[str, SinkPlugin[Any]],
        checks: Mapping[str, CheckPlugin[Any]],
        entries: Sequence[PluginEntry],
    ) -> None:
        self.sources = dict(sorted(sources.items()))
        self.sinks = dict(sorted(sinks.items()))
        self.checks = dict(sorted(checks.items()))
        self.entries = tuple(sorted(entries, key=lambda e: (e.kind, e.name, e.target)))

    def disabled(self, kind: Kind, name: str) -> PluginEntry | None:
        return next(
            (e for e in self.entries if e.kind == kind and e.name == name and not e.enabled),
            None,
        )

    def unknown_type(self, kind: Kind, name: str) -> str:
        """Why ``type: name`` cannot be used: disabled (and why), or not installed."""
        entry = self.disabled(kind, name)
        if entry is not None:
            return f"the {kind} type {name!r} is disabled: {entry.reason}"
        known = self.sources if kind == "source" else self.sinks
        listed = ", ".join(known) or "none"
        return f"unknown {kind} type {name!r} (available: {listed}; see `trueup plugins`)"

    # --- building what the configuration names ---------------------------------

    def create_source(self, config: SourceConfig, others: Sequence[SourceConfig] = ()) -> Source:
        plugin: SourcePlugin[Any] = self._plugin_of(config, self.sources, "source")
        setup = SourceSetup(others=[o for o in others if o.id != config.id])
        source: Source = plugin.create(config, setup)
        return source

    def create_sink(self, config: SinkConfig, setup: SinkSetup) -> Sink:
        plugin: SinkPlugin[Any] = self._plugin_of(config, self.sinks, "sink")
        sink: Sink = plugin.create(config, setup)
        return sink

    def create_checks(self, config: ChecksConfig) -> list[Check]:
        """Every enabled check, built from its settings in ``config``."""
        return [
            plugin.create(config.section(name, plugin.config))
            for name, plugin in self.checks.items()
        ]

    def _plugin_of(
        self, config: SourceConfig | SinkConfig, plugins: Mapping[str, Any], kind: Kind
    ) -> Any:
        plugin = plugins.get(config.type)
        if plugin is None or not isinstance(config, plugin.config):
            raise ConfigError(self.unknown_type(kind, config.type))
        return plugin


def load_registry(found: Iterable[EntryPoint] | None = None) -> Registry:
    """Load every plugin entry point (``found``: these instead of the installed ones)."""
    if found is None:
        found = [ep for group in GROUPS.values() for ep in entry_points(group=group)]
    kinds = {group: kind for kind, group in GROUPS.items()}
    loaded: dict[Kind, dict[str, Any]] = {"source": {}, "sink": {}, "check": {}}
    owners: dict[tuple[Kind, str], str] = {}
    entries: list[PluginEntry] = []
    # Reading a package's name and version parses its metadata: once per package.
    named: dict[int, str] = {}
    owned: list[tuple[EntryPoint, str]] = []
    for point in found:
        if id(point.dist) not in named:
            named[id(point.dist)] = _distribution(point)
        owned.append((point, named[id(point.dist)]))
    for point, where in sorted(owned, key=_claim_order):
        kind = kinds.get(point.group)
        if kind is None:
            continue
        plugin, reason = _load(kind, point)
        if reason is None and (kind, point.name) in owners:
            reason = f"the name {point.name!r} is already taken by {owners[(kind, point.name)]}"
        summary = getattr(plugin, "summary", "") if plugin is not None else ""
        entries.append(PluginEntry(kind, point.name, point.value, where, summary, reason))
        if reason is None:
            loaded[kind][point.name] = plugin
            owners[(kind, point.name)] = where
    return Registry(loaded["source"], loaded["sink"], loaded["check"], entries)


def _claim_order(owned: tuple[EntryPoint, str]) -> tuple[str, str, bool, str, str]:
    """Who gets a name two packages claim: trueup's own plugin, then by package name."""
    point, dist = owned
    return (point.group, point.name, not dist.startswith("trueup "), dist, point.value)


def _distribution(point: EntryPoint) -> str:
    dist = point.dist
    return f"{dist.name} {dist.version}" if dist is not None else "(no distribution)"


def _load(kind: Kind, point: EntryPoint) -> tuple[Any, str | None]:
    """The plugin an entry point names, or why it cannot be used."""
    try:
        plugin: Any = point.load()
    except Exception as exc:  # any failure of someone else's module disables only it
        return None, f"cannot be loaded: {type(exc).__name__}: {exc}"
    shape = _SHAPES[kind]
    if not isinstance(plugin, shape):
        return None, f"names a {type(plugin).__name__}, not a {shape.__name__}"
    if kind == "check":
        if point.name in _RESERVED_CHECK_NAMES:
            return plugin, f"{point.name!r} is a key of checks: itself, not a check name"
        return plugin, None
    model: type[Any] = cast(Any, plugin).config
    declared = _declared_type(model)
    if declared != point.name:
        return plugin, (
            f"its configuration model {model.__name__} declares type "
            f"{declared!r}, not {point.name!r}"
        )
    return plugin, None


def _declared_type(model: type[Any]) -> str | None:
    """The one value of a config model's ``type: Literal[...]`` field, if it has one."""
    field = getattr(model, "model_fields", {}).get("type")
    if field is None or typing.get_origin(field.annotation) is not Literal:
        return None
    values = typing.get_args(field.annotation)
    return str(values[0]) if len(values) == 1 else None


@functools.cache
def registry() -> Registry:
    """The installed plugins, loaded once per process."""
    return load_registry()


__all__ = ["GROUPS", "PluginEntry", "Registry", "load_registry", "registry"]
