"""Safe YAML for untrusted catalog files (SPEC section 10, research §6).

The git and GitHub sources call :func:`load_documents` on every
``catalog-info.yaml`` they read; each returned :class:`Document` then goes to
``trueup.model.validation``. Catalog files come from anyone who can push to a
repository, so this module never raises for any input and never builds a
Python object from a tag: bad input comes back as :class:`DocumentError` values.

How it reads, and why:

- libyaml's C event parser (``yaml.CSafeLoader``) tokenizes; the tree is built
  here, iteratively, from the events. PyYAML's own constructors are not used:
  they resolve YAML 1.1 (``owner: no`` would become ``False``), keep the last of
  duplicate keys, apply ``<<`` merge keys and build ``!!binary``/``!!timestamp``.
- Scalars follow the YAML 1.2 core schema, as Backstage's npm ``yaml`` does:
  ``no``/``on``/``2024-01-01``/``1:20`` stay strings, ``0777`` is 777, ``1e3``
  is 1000.0. Mapping keys are strings, as in the JSON Backstage makes
  (``8080:`` becomes ``"8080"``, a null key ``""``): :mod:`trueup.parse.core_schema`.
- A document under a ``%YAML 1.1`` directive, which Backstage reads under the
  YAML 1.1 schema, carries the first of its plain scalars that reads otherwise
  there (``no``, ``0777``, ``1:20``) as :attr:`Document.otherwise` (rule
  ``yaml-1.1``, naming the field), for the caller to refuse it by:
  :mod:`trueup.parse.yaml11`. As in npm ``yaml``, the directive holds for the
  file's later documents too, until another ``%YAML`` directive.
- Only the core tags ``!!str !!int !!float !!bool !!null !!map !!seq`` are
  allowed; any other tag is refused by name.
- A NUL character (U+0000, only a double-quoted ``\\0``, ``\\x00`` or
  ``\\u0000`` can make one) in any key or value refuses its document
  (``nul-character``, naming the field): PostgreSQL stores no NUL in text,
  and its JSON operators refuse ``\\u0000`` anywhere in a value.
- Hostile input is bounded: file size (checked before decoding), alias uses,
  nesting depth, and the node count with every alias counted at its expanded
  size, so an alias bomb is refused without ever being expanded.
- Each document of a multi-document file stands alone: an error in one does not
  drop the others. libyaml cannot resume after a syntax error, so parsing starts
  again at the next ``---`` line after it (a document marker at the start of a
  line ends whatever was open, in YAML 1.2 as in libyaml): the documents before
  and after the broken one are kept, as Backstage keeps them.
"""

from __future__ import annotations

import codecs
import contextlib
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from trueup.model.observation import NUL_CHARACTER, show_unstorable
from trueup.parse.core_schema import (
    NUMBER_START,
    PLAIN_CONSTANTS,
    SCALAR_KINDS,
    key_text,
    resolve_plain_scalar,
    resolve_tagged,
)
from trueup.parse.stream_bytes import (
    FORBIDDEN_TEXT,
    PAIR_START,
    Rest,
    forbidden_at,
    forbidden_document,
    joined_pairs,
    marker_after,
)
from trueup.parse.yaml11 import YAML_1_1, read_as, read_otherwise

MAX_FILE_BYTES = 64 * 1024 * 1024  # the default of ``backstage.max_file_bytes``
MAX_ALIASES = 100  # per document, as npm yaml's maxAliasCount
MAX_NODES = 100_000  # per document, aliases counted at their expanded size
MAX_DEPTH = 64  # nested mappings and sequences

_CORE = "tag:yaml.org,2002:"
_MAP_TAGS = frozenset({None, "!", _CORE + "map"})
_SEQ_TAGS = frozenset({None, "!", _CORE + "seq"})
_CORE_KINDS = SCALAR_KINDS | {"map", "seq"}
_NOT_FOUND = object()


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed document of a multi-document file (index counts from 0)."""

    index: int
    value: Any
    line: int  # 1-based line where the document starts
    # Under %YAML 1.1: its first plain scalar YAML 1.1 reads otherwise (rule yaml-1.1), for a
    # caller to refuse it by where Backstage reads it (an entity, a placeholder's data).
    otherwise: DocumentError | None = None


@dataclass(frozen=True, slots=True)
class DocumentError:
    """A document (or the whole file, index None) that could not be parsed."""

    index: int | None
    rule: str  # stable rule id, e.g. "yaml-syntax", "duplicate-key", "alias-limit"
    message: str
    line: int | None = None
    field: str | None = None  # the field path, when the rule is about one field


def load_documents(
    data: bytes | str,
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_aliases: int = MAX_ALIASES,
    max_nodes: int = MAX_NODES,
    max_depth: int = MAX_DEPTH,
    mappings_only: bool = True,
) -> list[Document | DocumentError]:
    """Every document of a catalog file, or the reason it could not be read.

    Null documents (an empty file, a trailing ``---``) are left out; a
    document whose root is not a mapping is a ``not-a-mapping`` error (unless
    ``mappings_only`` is False). Whole-file errors (``file-too-large``,
    ``encoding``) have ``index=None``. :func:`iter_documents` gives the same
    one document at a time.
    """
    return list(
        iter_documents(
            data,
            max_file_bytes=max_file_bytes,
            max_aliases=max_aliases,
            max_nodes=max_nodes,
            max_depth=max_depth,
            mappings_only=mappings_only,
        )
    )


def iter_documents(
    data: bytes | str,
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_aliases: int = MAX_ALIASES,
    max_nodes: int = MAX_NODES,
    max_depth: int = MAX_DEPTH,
    mappings_only: bool = True,
) -> Iterator[Document | DocumentError]:
    """:func:`load_documents`, yielding each document as soon as it is complete.

    Memory follows one document, not the file: the bytes go to libyaml as they
    are (no decoded copy of the text), and a document is handed over, and can be
    dropped, before the next one is built.
    """
    if len(data) > max_file_bytes:
        yield DocumentError(
            None, "file-too-large", f"file is {len(data)} bytes, over the {max_file_bytes} cap"
        )
        return
    if isinstance(data, bytes) and (undecodable := _not_utf8(data)) is not None:
        yield undecodable
        return
    if PAIR_START.search(data if isinstance(data, bytes) else data.encode("utf-8", "replace")):
        with contextlib.suppress(UnicodeError):  # lone surrogates in a str: refused below
            data = joined_pairs(_utf8(data))
    builder = _Builder(
        max_aliases=max_aliases,
        max_nodes=max_nodes,
        max_depth=max_depth,
        mappings_only=mappings_only,
    )
    results = builder.results
    stream: bytes | str | Rest = data
    raw = data if isinstance(data, bytes) else None  # its UTF-8 bytes, once needed
    offset = 0  # where in those bytes the part being parsed starts
    # libyaml checks characters a buffer ahead of its parser: one it forbids would fail
    # the document being parsed, maybe far before it, losing those in between. So a part
    # ends before the document holding one, which then fails alone.
    forbidden = FORBIDDEN_TEXT.search(data) if isinstance(data, str) else _forbidden_bytes(data)
    if forbidden is not None:
        try:
            raw = _utf8(data)
        except UnicodeError as exc:  # a str holding lone surrogates cannot reach libyaml
            yield DocumentError(None, "encoding", f"text is not encodable as UTF-8: {exc}")
            return
        stream = Rest(raw, 0)
    while True:
        stopped: int | None = None  # the line of a syntax error that ended the part
        bad = None
        if forbidden is not None and raw is not None:
            bad = forbidden_document(raw, offset)
            if bad is not None:
                stream = Rest(raw, offset, bad.start)
        try:
            # What yaml.parse() does, without its generator and check_event() per event.
            parser = yaml.CSafeLoader(stream)
            try:
                while builder.build(parser.get_event):
                    yield from results
                    results.clear()
            finally:
                parser.dispose()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            stopped = mark.line + 1 + builder.line_offset if mark is not None else None
            problem = ": ".join(part for part in (exc.context, exc.problem) if part)
            builder.fail_stream("yaml-syntax", problem or "invalid YAML", stopped)
        except yaml.reader.ReaderError as exc:  # a character YAML does not allow
            # libyaml reports the offset in the UTF-8 bytes it was given.
            raw = _utf8(data) if raw is None else raw
            newlines = raw.count(b"\n", offset, offset + exc.position)
            stopped = builder.line_offset + newlines + 1
            char = (
                f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
            )
            builder.fail_stream("yaml-syntax", f"character {char}: {exc.reason}", stopped)
        except yaml.YAMLError as exc:
            builder.fail_stream(
                "yaml-syntax", str(exc).splitlines()[0] if str(exc) else "invalid", None
            )
        except UnicodeError as exc:  # a str holding lone surrogates cannot reach libyaml
            results.clear()
            yield DocumentError(None, "encoding", f"text is not encodable as UTF-8: {exc}")
            return
        except RecursionError:  # not expected from an iterative builder; kept as a last guard
            builder.fail_stream("depth-limit", "document nests too deeply", None)
        yield from results
        results.clear()
        if stopped is None and bad is not None and raw is not None:
            stopped = builder.line_offset + raw.count(b"\n", offset, bad.at) + 1
            builder.fail_stream("yaml-syntax", f"character {bad.shown}: {bad.reason}", stopped)
            yield from results
            results.clear()
        if stopped is None:
            return
        raw = _utf8(data) if raw is None else raw
        found = marker_after(raw, offset, builder.line_offset, stopped, builder.failed_from)
        if found is None:
            return
        offset, line = found
        stream = Rest(raw, offset)
        builder.resume(line)


def _utf8(data: bytes | str) -> bytes:
    return data if isinstance(data, bytes) else data.encode("utf-8")


# The bytes :func:`~trueup.parse.stream_bytes.forbidden_at` looks closer at: every
# forbidden character starts with one. Most files hold none, and deleting them all
# tells so in a tenth of the time a regex search for them takes.
_SUSPECT_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, 0xC2, 0xEF])


def _forbidden_bytes(data: bytes) -> tuple[int, int] | None:
    """:func:`~trueup.parse.stream_bytes.forbidden_at` from the start of ``data``."""
    if len(data.translate(None, _SUSPECT_BYTES)) == len(data):
        return None
    return forbidden_at(data, 0)


_CHUNK = 1 << 20


def _not_utf8(data: bytes) -> DocumentError | None:
    """An ``encoding`` error when ``data`` is not UTF-8, checked a chunk at a time.

    libyaml would read UTF-16 too; Backstage reads catalog files as UTF-8 only.
    """
    if data.isascii():  # as most files are: valid UTF-8, found without decoding
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    start = 3 if data.startswith(codecs.BOM_UTF8) else 0
    for offset in range(start, max(len(data), start + 1), _CHUNK):
        chunk = view[offset : offset + _CHUNK]
        try:
            decoder.decode(chunk, final=offset + _CHUNK >= len(data))
        except UnicodeDecodeError as exc:
            where = offset + exc.start - len(decoder.getstate()[0])
            return DocumentError(None, "encoding", f"not valid UTF-8 at byte {where}")
    return None


class _DocumentRuleError(Exception):
    """Internal: the current document broke a rule; carries the error."""

    def __init__(self, rule: str, message: str, event: Any, field: str | None = None) -> None:
        super().__init__(message)
        self.rule, self.message, self.field = rule, message, field
        self.line: int = event.start_mark.line + 1


class _Frame:
    """One open mapping or sequence while a document is being built."""

    __slots__ = ("anchor", "container", "is_map", "key", "start_nodes")

    def __init__(self, container: Any, is_map: bool, anchor: str | None, start: int) -> None:
        self.container = container
        self.is_map = is_map
        self.key: Any = _NOT_FOUND  # in a mapping: the key waiting for its value
        self.anchor = anchor
        self.start_nodes = start


class _Builder:
    """Turns a libyaml event stream into documents and errors, without recursion.

    :meth:`build` takes the events of one document at a time; state that outlives a
    part of the file (the document index, the line offset) stays here between parts.
    """

    def __init__(
        self, *, max_aliases: int, max_nodes: int, max_depth: int, mappings_only: bool = True
    ) -> None:
        self.max_aliases, self.max_nodes, self.max_depth = max_aliases, max_nodes, max_depth
        self.mappings_only = mappings_only
        self.results: list[Document | DocumentError] = []
        self.next_index = 0
        self.in_document = False
        self.line_offset = 0  # lines of the file before the part being parsed
        self.failed_from = 0  # the line where the document a syntax error broke began
        self.yaml11 = False  # the file's last %YAML directive said 1.1 (it holds on)
        self._start_document(0)

    def _start_document(self, line: int) -> None:
        self.index = self.next_index
        self.line = line
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.anchors: dict[str, tuple[Any, int]] = {}  # anchor -> (value, expanded node count)
        self.nodes = 0
        self.aliases = 0
        self.error: DocumentError | None = None
        self.otherwise: DocumentError | None = None

    def build(self, next_event: Callable[[], Any]) -> bool:
        """Take libyaml's events until a document is complete (True: its document or
        error is in ``results``) or the part ends (False)."""
        try:
            return self._take(next_event)
        except _DocumentRuleError as failed:
            line = failed.line + self.line_offset
            self.error = DocumentError(self.index, failed.rule, failed.message, line, failed.field)
        while (event := next_event()) is not None:  # skip the rest of the failed document
            if type(event) is DocumentEndEvent:
                self._finish_document()
                return True
        return False

    def _take(self, next_event: Callable[[], Any]) -> bool:
        """:meth:`build`, raising at the first rule the document breaks.

        This loop runs once per event, with its state in locals: the open collections,
        the node count, and the innermost collection's container, kind and waiting key
        (written back to its frame before a method that reads the frames). An event that
        completes a value (a scalar, the end of a collection, an alias) falls through to
        where the value is added.
        """
        stack = self.stack
        anchors = self.anchors
        max_nodes, max_depth = self.max_nodes, self.max_depth
        nodes = self.nodes
        constant = PLAIN_CONSTANTS.get
        top = stack[-1] if stack else None
        container: Any = top.container if top is not None else None  # None: the root is next
        is_map = top is not None and top.is_map
        key = top.key if top is not None else _NOT_FOUND  # in a mapping: waiting for its value
        yaml11 = self.yaml11
        try:
            for event in iter(next_event, None):
                cls = type(event)
                if cls is ScalarEvent:
                    nodes += 1
                    if nodes > max_nodes:
                        self._node_limit(event)
                    if event.tag is None and event.implicit[0]:
                        # resolve_plain_scalar, but a word (most scalars) is itself at once
                        text = event.value
                        value = constant(text, text)
                        if value is text and text[0] in NUMBER_START:
                            value = resolve_plain_scalar(text)
                        if (
                            yaml11
                            and self.otherwise is None
                            and (other := read_otherwise(text, value)) is not None
                        ):
                            if stack:
                                stack[-1].key = key
                            self._read_otherwise(event, other)
                    else:
                        if stack:
                            stack[-1].key = key
                        value = self._special_scalar(event)
                    if event.anchor is not None:
                        anchors[event.anchor] = (value, 1)
                elif cls is MappingEndEvent or cls is SequenceEndEvent:
                    frame = stack.pop()
                    value = frame.container
                    if frame.anchor is not None:
                        anchors[frame.anchor] = (value, nodes - frame.start_nodes + 1)
                    if stack:
                        top = stack[-1]
                        container, is_map, key = top.container, top.is_map, top.key
                    else:
                        container, is_map, key = None, False, _NOT_FOUND
                elif cls is MappingStartEvent or cls is SequenceStartEvent:
                    opened = cls is MappingStartEvent
                    if event.tag not in (_MAP_TAGS if opened else _SEQ_TAGS):
                        _refuse_tag(event.tag, "a mapping" if opened else "a sequence", event)
                    if is_map and key is _NOT_FOUND:
                        raise _DocumentRuleError(
                            "complex-key", "mapping keys must be scalars", event
                        )
                    if len(stack) >= max_depth:
                        message = f"nesting deeper than {max_depth} levels"
                        raise _DocumentRuleError("depth-limit", message, event)
                    nodes += 1
                    if nodes > max_nodes:
                        self._node_limit(event)
                    if stack:
                        stack[-1].key = key
                    container = {} if opened else []
                    stack.append(_Frame(container, opened, event.anchor, nodes))
                    is_map, key = opened, _NOT_FOUND
                    continue
                elif cls is AliasEvent:
                    if stack:
                        stack[-1].key = key
                    self.nodes = nodes
                    value = self._alias(event)
                    nodes = self.nodes
                elif cls is DocumentStartEvent:
                    self._start_document(event.start_mark.line + 1 + self.line_offset)
                    self.in_document = True
                    if event.version is not None:  # npm yaml keeps it for the documents after
                        yaml11 = self.yaml11 = event.version == (1, 1)
                    stack, anchors, nodes = self.stack, self.anchors, 0
                    container, is_map, key = None, False, _NOT_FOUND
                    continue
                elif cls is DocumentEndEvent:
                    self._finish_document()
                    return True
                else:
                    continue  # the stream's start and end
                if is_map:
                    if key is _NOT_FOUND:
                        if type(value) is not str:
                            value = key_text(value)
                        if value in container:
                            shown = _clipped(repr(value))
                            raise _DocumentRuleError(
                                "duplicate-key", f"duplicate key {shown}", event
                            )
                        key = value
                    else:
                        container[key] = value
                        key = _NOT_FOUND
                elif container is not None:
                    container.append(value)
                else:
                    self.root = value
            return False
        finally:
            self.nodes = nodes
            if stack:
                stack[-1].key = key

    def fail_stream(self, rule: str, message: str, line: int | None) -> None:
        """A syntax error ended the stream; the open document (if any) is lost.

        A document is one error, its first problem: a rule it broke already (a Helm
        template's ``{{`` key) was at an event libyaml gave, so before this error.
        """
        index = self.index if self.in_document else self.next_index
        if self.in_document and self.error is not None:
            self.results.append(self.error)
        else:
            self.results.append(DocumentError(index, rule, message, line))
        self.failed_from = self.line if self.in_document else self.line_offset + 1
        self.in_document = False
        self.next_index = index + 1

    def resume(self, line: int) -> None:
        """Parse on from the document marker at ``line``, after a syntax error."""
        self.line_offset = line - 1
        self.error = None

    def _finish_document(self) -> None:
        self.in_document = False
        self.next_index = self.index + 1
        if self.error is not None:
            self.results.append(self.error)
            self.error = None
        elif isinstance(self.root, dict) or (self.root is not None and not self.mappings_only):
            self.results.append(Document(self.index, self.root, self.line, self.otherwise))
        elif self.root is not None:
            message = f"Expected object at root, got {_json_type(self.root)}"
            self.results.append(DocumentError(self.index, "not-a-mapping", message, self.line))

    def _special_scalar(self, event: Any) -> Any:
        """A quoted, block or tagged scalar."""
        if "\0" in event.value:  # only a double-quoted escape makes one: never plain
            self._nul(event)
        tag: str | None = event.tag
        if tag is None or tag == "!":
            return event.value
        kind = tag[len(_CORE) :]
        if not tag.startswith(_CORE) or kind not in SCALAR_KINDS:
            _refuse_tag(tag, "a scalar", event)
        try:
            return resolve_tagged(kind, event.value)
        except ValueError:
            message = f"{_clipped(repr(event.value))} is not a valid !!{kind}"
            raise _DocumentRuleError("tag-mismatch", message, event) from None

    def _alias(self, event: Any) -> Any:
        """The value an alias stands for, a copy of its anchor's."""
        self.aliases += 1
        if self.aliases > self.max_aliases:
            message = f"more than {self.max_aliases} aliases in one document"
            raise _DocumentRuleError("alias-limit", message, event)
        found = self.anchors.get(event.anchor)
        if found is None:
            message = f"alias *{event.anchor} has no anchor before it"
            raise _DocumentRuleError("yaml-syntax", message, event)
        value, size = found
        self.nodes += size
        if self.nodes > self.max_nodes:
            self._node_limit(event)
        if isinstance(value, dict | list):
            if self.stack and self.stack[-1].is_map and self.stack[-1].key is _NOT_FOUND:
                raise _DocumentRuleError("complex-key", "mapping keys must be scalars", event)
            value = copy.deepcopy(value)  # bounded by the node limit; no shared mutable trees
        return value

    def _nul(self, event: Any) -> None:
        """Refuse the document for a NUL in the scalar ``event`` (a key or a value)."""
        field = self._field(event)
        message = f"{field} holds a NUL character (U+0000), which cannot be stored"
        raise _DocumentRuleError(NUL_CHARACTER, message, event, field)

    def _read_otherwise(self, event: Any, other: str) -> None:
        """Keep the first plain scalar that the document's ``%YAML 1.1`` directive makes
        Backstage read as ``other`` (:mod:`trueup.parse.yaml11`)."""
        field = self._field(event)
        message = f"{field}: {_clipped(repr(event.value))} {read_as(other)}"
        line = event.start_mark.line + 1 + self.line_offset
        self.otherwise = DocumentError(self.index, YAML_1_1, message, line, field)

    def _field(self, event: Any) -> str:
        """Where the scalar ``event`` is, a key or a value (``spec.owner``, ``tags[0]``)."""
        parts: list[str] = []
        for frame in self.stack:
            if not frame.is_map:
                parts.append(f"[{len(frame.container)}]")
                continue
            key = frame.key if frame.key is not _NOT_FOUND else event.value  # it is the key
            shown = _field_part(key)
            parts.append(f".{shown}" if parts else shown)
        return "".join(parts) or "<root>"

    def _node_limit(self, event: Event) -> None:
        message = f"more than {self.max_nodes} nodes in one document (aliases expanded)"
        raise _DocumentRuleError("node-limit", message, event)


def _field_part(key: str) -> str:
    """One key of a field path as shown: a NUL as ``\\0``, a long key cut short."""
    return _clipped(show_unstorable(key))


def _clipped(shown: str) -> str:
    """A key, tag or value quoted in a message, cut short: a message is stored and served."""
    return shown if len(shown) <= 80 else f"{shown[:75]}...{shown[-2:]}"


def _refuse_tag(tag: str, node: str, event: Event) -> None:
    shown = _clipped("!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag)
    if tag.startswith(_CORE) and tag[len(_CORE) :] in _CORE_KINDS:
        raise _DocumentRuleError("tag-mismatch", f"tag {shown} cannot be used on {node}", event)
    raise _DocumentRuleError("forbidden-tag", f"tag {shown} is not allowed", event)


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    return "number"
