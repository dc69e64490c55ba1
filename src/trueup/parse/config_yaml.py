"""The configuration file's YAML: the same bounded, safe parser as catalog files.

Called by :func:`trueup.config.parse_config`. ``trueup.yaml`` is trusted more
than a catalog file, but it is still text a person or a template wrote, so it
gets the same protection (SPEC section 10): YAML 1.2 scalars (``owner: no``
stays ``"no"``), duplicate keys and non-core tags refused, and aliases, nodes,
depth and size bounded — an alias bomb is refused in microseconds instead of
growing without end. :func:`config_document` returns the data, the line of
every key (for errors that name it) and the environment values it used;
every problem is a :class:`~trueup.errors.ConfigError` that names the file.

``${VAR}`` is not valid inside a YAML flow mapping (``{token: ${X}}``, as SPEC
section 2 writes it), so it is swapped for a plain-scalar placeholder before
parsing and substituted in the parsed string values: an environment value can
never inject YAML syntax. A value given wholly by one ``${VAR}`` comes back as
:class:`EnvironmentText`, so that a boolean setting may read it as YAML would
(an environment variable has no other way to give ``true`` or ``false``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from trueup.errors import ConfigError
from trueup.parse.catalog_yaml import Document, load_documents

MAX_CONFIG_BYTES = 1024 * 1024
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PLACEHOLDER = "TRUEUPENV0x"
_PLACED = re.compile(_PLACEHOLDER + r"([A-Za-z_][A-Za-z0-9_]*?)" + _PLACEHOLDER)

Path_ = tuple[str | int, ...]
_NODE_EVENTS = (ScalarEvent, AliasEvent, MappingStartEvent, SequenceStartEvent)


class EnvironmentText(str):
    """A value given wholly by one ``${VAR}``: text, as every environment value is.

    Read as a boolean where a setting is one (:mod:`trueup.config_model`); a text
    setting reads it as plain ``str``.
    """

    __slots__ = ()


@dataclass(frozen=True)
class ConfigDocument:
    """A parsed configuration: its data, the line of each key path, the env values used."""

    data: dict[str, Any]
    lines: dict[Path_, int]
    environment_values: frozenset[str]


def config_document(data: bytes | str, filename: str, environ: Mapping[str, str]) -> ConfigDocument:
    """Parse, bound and substitute one configuration file; raises ConfigError naming it."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{filename}: not UTF-8 text (an invalid byte at offset {exc.start})"
            ) from None
    text = _ENV.sub(lambda m: f"{_PLACEHOLDER}{m.group(1)}{_PLACEHOLDER}", data)
    documents = load_documents(text, max_file_bytes=MAX_CONFIG_BYTES)
    if not documents:
        raise ConfigError(
            f"{filename}: the configuration is empty: nothing is configured "
            "(write one with `trueup init`)"
        )
    first = documents[0]
    if not isinstance(first, Document):
        if first.rule == "not-a-mapping":
            raise ConfigError(f"{filename}: the configuration must be a mapping")
        where = f"{filename}:{first.line}" if first.line else filename
        what = "not valid YAML" if first.rule == "yaml-syntax" else "refused"
        raise ConfigError(f"{where}: {what}: {first.message} [{first.rule}]")
    if len(documents) > 1:
        raise ConfigError(f"{filename}: holds more than one YAML document; use one")
    lines = _key_lines(text)
    substitution = _Substitution(lines, environ, filename)
    value = substitution.apply(first.value, ())
    return ConfigDocument(value, lines, frozenset(substitution.used))


class _Substitution:
    """Replaces placeholders in string values, remembering the environment values used."""

    def __init__(self, lines: Mapping[Path_, int], environ: Mapping[str, str], filename: str):
        self.lines, self.environ, self.filename = lines, environ, filename
        self.used: set[str] = set()

    def apply(self, value: Any, path: Path_) -> Any:
        if isinstance(value, dict):
            return {key: self.apply(inner, (*path, key)) for key, inner in value.items()}
        if isinstance(value, list):
            return [self.apply(inner, (*path, i)) for i, inner in enumerate(value)]
        if not isinstance(value, str) or _PLACEHOLDER not in value:
            return value

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.environ:
                line = line_of(self.lines, path)
                raise ConfigError(f"{self.filename}:{line}: environment variable {name} is not set")
            self.used.add(self.environ[name])
            return self.environ[name]

        text = _PLACED.sub(replace, value)
        whole = value.count(_PLACEHOLDER) == 2 and _PLACED.fullmatch(value)
        return EnvironmentText(text) if whole else text


def line_of(lines: Mapping[Path_, int], path: tuple[object, ...]) -> int:
    """The line of ``path``, or of its nearest ancestor that has one (1 at worst)."""
    for cut in range(len(path), -1, -1):
        found = lines.get(tuple(path[:cut]))  # type: ignore[arg-type]
        if found is not None:
            return found
    return 1


class _Open:
    """A mapping or sequence whose children's paths are being recorded."""

    __slots__ = ("index", "is_map", "key", "path")

    def __init__(self, path: Path_, is_map: bool) -> None:
        self.path, self.is_map = path, is_map
        self.key: str | None = None  # in a mapping: the key waiting for its value
        self.index = 0


def _key_lines(text: str) -> dict[Path_, int]:
    """The line of every key path, from the event stream (the document was accepted,
    so this pass is bounded by the same limits; aliases are not expanded)."""
    lines: dict[Path_, int] = {(): 1}
    stack: list[_Open] = []
    parser = yaml.CSafeLoader(text)
    try:
        while (event := parser.get_event()) is not None:
            if isinstance(event, MappingEndEvent | SequenceEndEvent):
                stack.pop()
                _advance(stack)
                continue
            if not isinstance(event, _NODE_EVENTS):
                continue
            line = event.start_mark.line + 1 if event.start_mark is not None else 1
            if stack and stack[-1].is_map and stack[-1].key is None:
                stack[-1].key = str(getattr(event, "value", ""))  # a key (always a scalar)
                lines[(*stack[-1].path, stack[-1].key)] = line
                continue
            path = _child(stack)
            lines.setdefault(path, line)
            if isinstance(event, MappingStartEvent | SequenceStartEvent):
                stack.append(_Open(path, isinstance(event, MappingStartEvent)))
            else:
                _advance(stack)
    finally:
        parser.dispose()
    return lines


def _child(stack: list[_Open]) -> Path_:
    if not stack:
        return ()
    top = stack[-1]
    return (*top.path, top.key) if top.is_map and top.key is not None else (*top.path, top.index)


def _advance(stack: list[_Open]) -> None:
    if not stack:
        return
    top = stack[-1]
    if top.is_map:
        top.key = None
    else:
        top.index += 1
