"""The items of a large ``kubectl get -o json`` List, read one at a time.

Called by :mod:`trueup.sources.kubernetes.snapshot` for export files too large
to load whole: a 118 MB export loaded with ``json.loads`` holds about a
gigabyte of Python objects at once, while its items are needed one at a time.
:func:`list_items` walks the top-level object with the standard library's
decoder (``JSONDecoder.raw_decode``) over a buffer refilled in chunks, yields
each element of ``items`` and records the other top-level keys
(``kind``, ``metadata``) in :class:`ListHead`.

It raises :class:`NotAStreamableList` for anything but a well-formed object
with an ``items`` array; the caller then reads the file whole, which also gives
the precise error message for a broken file.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

_CHUNK = 1 << 20
_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"


class NotAStreamableList(ValueError):  # noqa: N818 - a signal to read the file whole
    """The file is not a well-formed JSON object with an ``items`` array."""


@dataclass
class ListHead:
    """The top-level keys of the List other than ``items`` (complete once iteration ends)."""

    values: dict[str, object] = field(default_factory=dict)


class _Buffer:
    def __init__(self, path: Path) -> None:
        self.handle = path.open("rb")
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.pos = 0
        self.eof = False

    def more(self) -> bool:
        if self.eof:
            return False
        data = self.handle.read(_CHUNK)
        try:
            chunk = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError as error:
            raise NotAStreamableList("not UTF-8") from error
        self.eof = not data
        self.text = self.text[self.pos :] + chunk
        self.pos = 0
        return True

    def peek(self) -> str:
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _SPACE:
                self.pos += 1
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.more():
                raise NotAStreamableList("unexpected end of file")

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise NotAStreamableList(f"expected {char!r}")
        self.pos += 1

    def value(self) -> object:
        self.peek()
        while True:
            try:
                found, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as error:
                # A value cut by the end of the buffer: read on and try again.
                if self.more():
                    continue
                raise NotAStreamableList(str(error)) from error
            except RecursionError as error:
                raise NotAStreamableList("nested too deeply") from error
            if end == len(self.text) and not self.eof and isinstance(found, int | float):
                self.more()  # a number may go on in the next chunk
                continue
            self.pos = end
            return found

    def at_end(self) -> bool:
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _SPACE:
                self.pos += 1
            if self.pos < len(self.text):
                return False
            if not self.more():
                return True

    def close(self) -> None:
        self.handle.close()


def list_items(path: Path, head: ListHead) -> Iterator[object]:
    """Each element of the top-level ``items`` array; the other keys go into ``head``."""
    buffer = _Buffer(path)
    try:
        buffer.expect("{")
        seen_items = False
        if buffer.peek() == "}":
            raise NotAStreamableList("an empty object")
        while True:
            key = buffer.value()
            if not isinstance(key, str):
                raise NotAStreamableList("a key that is not a string")
            buffer.expect(":")
            if key == "items":
                seen_items = True
                yield from _array(buffer)
            else:
                head.values[key] = buffer.value()
            if buffer.peek() == ",":
                buffer.pos += 1
                continue
            buffer.expect("}")
            break
        if not buffer.at_end():
            raise NotAStreamableList("more after the top-level object")
        if not seen_items:
            raise NotAStreamableList("no items array")
    finally:
        buffer.close()


def _array(buffer: _Buffer) -> Iterator[object]:
    buffer.expect("[")
    if buffer.peek() == "]":
        buffer.pos += 1
        return
    while True:
        yield buffer.value()
        if buffer.peek() == ",":
            buffer.pos += 1
            continue
        buffer.expect("]")
        return
