"""Declarative mappings (SPEC 4.4): any Kubernetes kind → entity observations, without code.

A mapping (``mappings:`` of a ``kubernetes`` source,
:class:`~trueup.sources.kubernetes.config.MappingConfig`)
names an ``apiVersion`` and ``kind``, an optional label ``selector`` (sent to
the server by the live reader, applied here in snapshot mode), and
expressions in JMESPath (default) or jq, evaluated against the whole object:

- ``ref`` → ``[kind:][namespace/]name`` (the kind defaults to ``entity_kind``,
  ``component`` unless set); an empty or invalid result skips the object;
- ``fields`` → entity field paths (``metadata.description``, ``spec.type``,
  ``metadata.annotations.<key>`` …) and their values; ``null`` leaves a field out;
- ``status`` → status keys shown per place (``argocd-health``,
  ``crossplane-ready`` … are aggregated worst-of by the assembler); a missing
  value is ``""``, shown as Unknown, never healthy;
- ``links`` → annotation key → value that a declared entity may carry to claim
  the object; ``link_selectors`` → annotation keys whose label selector may
  select it; ``place`` → where the status was seen inside the cluster: the
  place is ``<cluster>/<result>`` (default ``<cluster>/<namespace>``). An
  expression sees the object, never which cluster holds it, so the cluster is
  always prefixed: two clusters' objects never share a place (SPEC 5.2).

Every expression is compiled once, when the source is built; a bad
expression or selector is a :class:`~trueup.errors.ConfigError` naming the
mapping. An expression that fails on one object (a type error at run time)
gives ``null`` for that object only. ``docs/mappings.md`` documents the format
with worked examples; :data:`BUILTIN_MAPPINGS` writes the built-in workload,
Argo CD and Crossplane collectors in the same form (the tests hold them equal).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import jmespath
import jmespath.exceptions

from trueup.errors import ConfigError, RefError
from trueup.model.finding import JSONValue
from trueup.model.observation import Nature, Observation
from trueup.model.ref import parse_ref
from trueup.sources.kubernetes.config import MappingConfig
from trueup.sources.kubernetes.objects import as_map, as_text, labels_of, provenance_of


class Expression(Protocol):
    @property
    def text(self) -> str: ...

    def evaluate(self, data: object) -> object: ...


@dataclass(frozen=True)
class JmesPathExpression:
    text: str
    program: Any

    def evaluate(self, data: object) -> object:
        try:
            return self.program.search(data)
        except jmespath.exceptions.JMESPathError:
            return None


@dataclass(frozen=True)
class JqExpression:
    text: str
    program: Any

    def evaluate(self, data: object) -> object:
        try:
            return self.program.input_value(data).first()
        except (ValueError, StopIteration):
            return None


def compile_expression(text: str, language: str, where: str) -> Expression:
    """Compile one expression; ConfigError naming ``where`` when it is not valid."""
    if language == "jq":
        try:
            import jq  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:  # pragma: no cover - jq is a dependency
            raise ConfigError(f"{where}: language jq needs the 'jq' package") from exc
        try:
            return JqExpression(text, jq.compile(text))
        except ValueError as exc:
            first = str(exc).strip().splitlines()[0]
            raise ConfigError(f"{where}: invalid jq expression {text!r}: {first}") from exc
    try:
        return JmesPathExpression(text, jmespath.compile(text))
    except jmespath.exceptions.JMESPathError as exc:
        raise ConfigError(f"{where}: invalid JMESPath expression {text!r}: {exc}") from exc


# --- label selectors ---------------------------------------------------------------------

_PART = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9][-A-Za-z0-9_./]*)\s*"
    r"(?:(?P<op>==|!=|=|\s+in\s+|\s+notin\s+)\s*(?P<value>\([^()]*\)|[-A-Za-z0-9_.]*))?\s*$"
)
LabelTest = Callable[[Mapping[str, str]], bool]


def _parts(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def _requirement(part: str) -> LabelTest:
    match = _PART.match(part)
    if match is None:
        raise ValueError(f"unable to parse requirement {part!r}")
    key, op, value = match["key"], (match["op"] or "").strip(), match["value"] or ""
    if match["neg"]:
        if op:
            raise ValueError(f"unable to parse requirement {part!r}")
        return lambda labels: key not in labels
    if not op:
        return lambda labels: key in labels
    if op in ("=", "=="):
        return lambda labels: labels.get(key) == value
    if op == "!=":
        return lambda labels: labels.get(key) != value
    if not value.startswith("("):
        raise ValueError(f"{op} needs a list in parentheses: {part!r}")
    values = frozenset(v.strip() for v in value[1:-1].split(",") if v.strip())
    if op == "in":
        return lambda labels: labels.get(key) in values
    return lambda labels: labels.get(key) not in values


@dataclass(frozen=True)
class LabelSelector:
    """A Kubernetes label selector, equality- and set-based, as the API server reads it."""

    text: str
    tests: tuple[LabelTest, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(test(labels) for test in self.tests)


def parse_label_selector(text: str) -> LabelSelector:
    """Parse a selector; ValueError when malformed. An empty selector matches everything."""
    tests = tuple(_requirement(p) for p in _parts(text)) if text.strip() else ()
    return LabelSelector(text.strip(), tests)


# --- mappings ------------------------------------------------------------------------------


def status_text(value: object) -> str:
    """A status value as text: booleans as ``True``/``False``, lists comma-joined."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join(status_text(v) for v in value if v is not None)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class CompiledMapping:
    """One mapping, compiled: ``applies_to`` then ``observe`` for each object."""

    name: str
    api_version: str
    kind: str
    selector: LabelSelector
    entity_kind: str
    ref: Expression
    fields: tuple[tuple[str, Expression], ...]
    status: tuple[tuple[str, Expression], ...]
    links: tuple[tuple[str, Expression], ...]
    place: Expression | None
    link_selectors: tuple[str, ...]

    def applies_to(self, obj: Mapping[str, object]) -> bool:
        if as_text(obj.get("apiVersion")) != self.api_version:
            return False
        if as_text(obj.get("kind")) != self.kind:
            return False
        return self.selector.matches(labels_of(as_map(obj.get("metadata"))))

    def observe(
        self, obj: Mapping[str, object], *, source: str, scope: str, observed_at: datetime
    ) -> Observation | None:
        """The observation this mapping makes of one object; None when its ref is empty."""
        ref_value = self.ref.evaluate(obj)
        if not isinstance(ref_value, str) or not ref_value:
            return None
        try:
            ref = parse_ref(ref_value, default_kind=self.entity_kind)
        except RefError:
            return None
        metadata = as_map(obj.get("metadata"))
        fields: dict[str, JSONValue] = {}
        for path, expression in self.fields:
            value = expression.evaluate(obj)
            if value is not None:
                fields[path] = value
        links: list[tuple[str, str]] = []
        for key, expression in self.links:
            text = status_text(expression.evaluate(obj))
            if text:
                links.append((key, text))
        within = status_text(self.place.evaluate(obj)) if self.place is not None else ""
        return Observation(
            ref=ref,
            nature=Nature.ACTUAL,
            provenance=provenance_of(source, scope, obj, observed_at),  # type: ignore[arg-type]
            fields=fields,
            place=f"{scope}/{within or as_text(metadata.get('namespace'))}",
            status={key: status_text(e.evaluate(obj)) for key, e in self.status},
            links=tuple(links),
            labels=labels_of(metadata),
            selectors=self.link_selectors,
        )


def compile_mapping(config: MappingConfig, where: str) -> CompiledMapping:
    """Compile one mapping; ConfigError naming ``where`` and the failing key."""
    name = config.name or f"{config.api_version} {config.kind}"
    label = f"{where} ({name})"
    try:
        selector = parse_label_selector(config.selector or "")
    except ValueError as exc:
        raise ConfigError(f"{label}: selector {config.selector!r}: {exc}") from exc

    def compiled(key: str, text: str) -> Expression:
        return compile_expression(text, config.language, f"{label} {key}")

    return CompiledMapping(
        name=name,
        api_version=config.api_version,
        kind=config.kind,
        selector=selector,
        entity_kind=config.entity_kind,
        ref=compiled("ref", config.ref),
        fields=tuple((p, compiled(f"fields.{p}", t)) for p, t in config.fields.items()),
        status=tuple((k, compiled(f"status.{k}", t)) for k, t in config.status.items()),
        links=tuple((k, compiled(f"links.{k}", t)) for k, t in config.links.items()),
        place=compiled("place", config.place) if config.place else None,
        link_selectors=tuple(config.link_selectors),
    )


def compile_mappings(
    configs: Sequence[MappingConfig], source_id: str
) -> tuple[CompiledMapping, ...]:
    """Compile every mapping of a source, once, when the source is built."""
    return tuple(
        compile_mapping(config, f"source {source_id!r}: mappings[{index}]")
        for index, config in enumerate(configs)
    )
