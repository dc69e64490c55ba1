"""Backstage's ``$text``, ``$json`` and ``$yaml`` placeholders, resolved as its
``PlaceholderProcessor`` does, before a document is validated.

Called by :func:`trueup.sources.descriptors.parse_descriptor_file` for every
entity document. A value that is a mapping with exactly one key, ``$text``,
``$json`` or ``$yaml``, and a string value is replaced by the content that string
names: the text, or the parsed JSON or YAML (exactly one document). A mapping
with several keys of which some start with ``$`` is left alone and not looked
into, as are unknown ``$`` keys and non-string values (a JSON Schema's ``$ref``
stays what it is). The content read is not looked into for placeholders again.

What a target may name is the source's to decide (:class:`ReferenceReader`):
a path relative to the descriptor file, in the same folder, commit or
repository and ref; a URL into the repository being read. Nothing is fetched
from anywhere else, a path never leaves the root, and a read is capped
(``backstage.max_placeholder_bytes``). A placeholder that cannot be resolved
makes the document invalid (``invalid-entity``, rule ``placeholder``), as it
makes Backstage refuse the entity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote

from trueup.model.observation import (
    LONE_SURROGATE,
    NUL_CHARACTER,
    UNSTORABLE_WHY,
    holds_nul,
    holds_unstorable,
)
from trueup.parse.catalog_yaml import Document, DocumentError, load_documents
from trueup.parse.yaml11 import YAML_1_1

KEYS = ("$text", "$json", "$yaml")


@dataclass(frozen=True, slots=True)
class Referenced:
    """A file a placeholder named: its bytes and version, or why it was not read.

    ``version`` identifies the content (a blob sha, a content hash); it is None
    when the file does not exist, so that its appearance is noticed too.
    """

    data: bytes | None
    version: str | None
    problem: str | None = None


class ReferenceReader(Protocol):
    """Where a source's placeholders are read from."""

    def resolve(self, base_file: str, target: str) -> str | Refusal:
        """The root-relative path ``target`` names from ``base_file``, or why it may not be read."""
        ...

    def read(self, path: str, max_bytes: int) -> Referenced:
        """The file at ``path`` (at most ``max_bytes``; a larger one is a problem, not read)."""
        ...


class ReadOnce:
    """The memo a :class:`ReferenceReader` keeps: each file (and cap) is read once per read
    of the scope, however many descriptors name it; a subclass does the reading."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, int], Referenced] = {}

    def read(self, path: str, max_bytes: int) -> Referenced:
        key = (path, max_bytes)
        if key not in self._seen:
            self._seen[key] = self._load(path, max_bytes)
        return self._seen[key]

    def _load(self, path: str, max_bytes: int) -> Referenced:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Refusal:
    """A target that is not read: a URL elsewhere, a path outside the root."""

    reason: str


@dataclass(frozen=True, slots=True)
class Reference:
    """One resolved placeholder: the entity field it fills and the file it read."""

    field: str  # the field path unit (``spec.definition``)
    path: str
    version: str


@dataclass
class Resolution:
    """What resolving one document's placeholders did."""

    references: list[Reference] = field(default_factory=list)
    # Every file looked at (path -> version, None when absent): what to watch for changes.
    dependencies: dict[str, str | None] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (field path, message)


def may_hold_placeholders(data: bytes) -> bool:
    """Whether the documents of a file's bytes can hold a placeholder at all.

    A placeholder's key starts with ``$``, which only a ``$`` in the file writes,
    or an escape (``"\\x24"``) in a double-quoted scalar: a file with neither has
    no placeholder, and its documents need not be walked for one.
    """
    return b"$" in data or b"\\" in data


def resolve_placeholders(
    document: dict[str, Any], base_file: str, reader: ReferenceReader, *, max_bytes: int
) -> Resolution:
    """Replace the placeholders of ``document`` in place; report what was read or failed."""
    resolution = Resolution()
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(document, ())]
    while stack:
        node, where = stack.pop()
        items = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        for key, value in items:
            if isinstance(value, dict):
                placeholder = _placeholder(value)
                if placeholder is None:
                    if not any(str(k).startswith("$") for k in value):
                        stack.append((value, (*where, key)))
                    continue
                node[key] = _resolve(
                    placeholder,
                    (*where, key),
                    base_file,
                    reader,
                    max_bytes=max_bytes,
                    resolution=resolution,
                )
            elif isinstance(value, list):
                stack.append((value, (*where, key)))
    return resolution


def _placeholder(value: dict[str, Any]) -> tuple[str, str] | None:
    if len(value) != 1:
        return None
    ((key, target),) = value.items()
    if key not in KEYS or not isinstance(target, str):
        return None
    return key, target


def _resolve(
    placeholder: tuple[str, str],
    where: tuple[str | int, ...],
    base_file: str,
    reader: ReferenceReader,
    *,
    max_bytes: int,
    resolution: Resolution,
) -> Any:
    key, target = placeholder
    field_path = field_of(where)
    shown = f"{_show(where)}: placeholder {key} {target!r}"
    path = reader.resolve(base_file, _url_path(target) if "://" not in target else target)
    if isinstance(path, Refusal):
        resolution.problems.append((field_path, f"{shown} {path.reason}"))
        return {key: target}
    found = reader.read(path, max_bytes)
    resolution.dependencies[path] = found.version
    if found.data is None or found.version is None:
        resolution.problems.append((field_path, f"{shown}: {found.problem or 'cannot be read'}"))
        return {key: target}
    value = _content(key, found.data)
    if isinstance(value, _Failed):
        resolution.problems.append((field_path, f"{shown}: {value.reason}"))
        return {key: target}
    resolution.references.append(Reference(field_path, path, found.version))
    return value


@dataclass(frozen=True, slots=True)
class _Failed:
    reason: str


def _content(key: str, data: bytes) -> Any:
    text = data.decode("utf-8", "replace")  # Buffer.toString('utf-8'), as Backstage reads it
    if key == "$text":
        return _refused(NUL_CHARACTER) if "\0" in text else text
    if key == "$json":
        try:
            value = json.loads(text, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            return _Failed(f"is not valid JSON: {exc}")
        if holds_unstorable(value):
            return _refused(NUL_CHARACTER if holds_nul(value) else LONE_SURROGATE)
        return value
    documents: list[Document | DocumentError] = load_documents(data, mappings_only=False)
    # a document that Backstage reads otherwise (%YAML 1.1) is refused as an error is
    errors = [e for d in documents if (e := d if isinstance(d, DocumentError) else d.otherwise)]
    if errors:
        why = (
            "is read otherwise by Backstage" if errors[0].rule == YAML_1_1 else "is not valid YAML"
        )
        return _Failed(f"{why}: {errors[0].message} [{errors[0].rule}]")
    if len(documents) != 1:
        return _Failed(f"holds {len(documents)} YAML documents; exactly one is expected")
    value = documents[0]
    return value.value if isinstance(value, Document) else None


def _refused(rule: str) -> _Failed:
    """Content the store cannot keep (as the catalog parser refuses such a document): a
    NUL, or a lone surrogate that ``json`` keeps from a ``\\ud800`` escape."""
    return _Failed(f"holds {UNSTORABLE_WHY[rule]} [{rule}]")


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")  # JSON.parse refuses NaN and Infinity


def _url_path(target: str) -> str:
    """A relative reference as a URL path: no query or fragment, percent-escapes decoded."""
    return unquote(target.split("#", 1)[0].split("?", 1)[0])


def field_of(where: tuple[str | int, ...]) -> str:
    """The field path unit (:mod:`trueup.model.fields`) a nested location belongs to."""
    head = str(where[0])
    if len(where) == 1 or head not in ("metadata", "spec"):
        return head
    second = str(where[1])
    if head == "metadata" and second in ("labels", "annotations") and len(where) > 2:
        return f"metadata.{second}.{where[2]}"
    return f"{head}.{second}"


def _show(where: tuple[str | int, ...]) -> str:
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
