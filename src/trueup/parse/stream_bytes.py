"""The bytes of a catalog file as libyaml cannot take them as they are.

- :data:`MARKER` and :func:`marker_after`: the ``---`` lines where parsing starts again
  after a broken document;
- :func:`forbidden_document`: a character YAML forbids, and the document holding it
  (libyaml checks a buffer ahead of its parser, so the documents before one would be lost);
- :func:`joined_pairs`: a JSON writer's surrogate-pair escapes, joined as Backstage's YAML
  reads them;
- :class:`Rest`: a part of the file handed to libyaml without a copy.

Used by :mod:`trueup.parse.catalog_yaml` only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MARKER = re.compile(rb"^---(?=[ \t\r\n]|\Z)", re.MULTILINE)


def marker_after(
    raw: bytes, offset: int, line_offset: int, stopped: int, floor: int
) -> tuple[int, int] | None:
    """The first ``---`` line at or after line ``stopped`` and after line ``floor``
    (where the broken document began), searched from byte ``offset`` (the start of
    line ``line_offset + 1``): its byte offset and line, or None."""
    at, line = offset, line_offset + 1
    for match in MARKER.finditer(raw, offset):
        line += raw.count(b"\n", at, match.start())
        at = match.start()
        if line >= stopped and line > floor:
            return at, line
    return None


# A JSON writer's escape of a character beyond U+FFFF: a surrogate pair, \\ud83d\\ude80.
# YAML writes it \\U0001f680; libyaml refuses the pair, Backstage's YAML joins it.
PAIR_START = re.compile(rb"\\u[dD][89abAB]")
_PAIR = re.compile(
    rb"(?<!\\)((?:\\\\)*)\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE
)


def joined_pairs(raw: bytes) -> bytes:
    """``raw`` with each surrogate-pair escape in a double-quoted scalar written as one.

    Inside a double-quoted scalar only (an odd number of unescaped quotes before it on
    its line, as JSON writes them); elsewhere a backslash is no escape, and the text
    stays as written, as Backstage reads it. Lines and their count are unchanged.
    """

    def joined(found: re.Match[bytes]) -> bytes:
        start = raw.rfind(b"\n", 0, found.start()) + 1
        before = re.sub(rb"\\.", b"", raw[start : found.start()])
        if before.count(b'"') % 2 == 0:
            return found.group()
        high, low = int(found.group(2), 16), int(found.group(3), 16)
        code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        return found.group(1) + b"\\U%08x" % code

    return _PAIR.sub(joined, raw)


class Rest:
    """The bytes of a file from an offset on (to ``end``), read by libyaml without a copy."""

    def __init__(self, raw: bytes, offset: int, end: int | None = None) -> None:
        self.view, self.at = memoryview(raw), offset
        self.end = len(raw) if end is None else end

    def read(self, size: int = -1, /) -> bytes:
        end = self.end if size < 0 else min(self.end, self.at + size)
        chunk = bytes(self.view[self.at : end])
        self.at += len(chunk)
        return chunk


# Characters YAML forbids in a stream: C0 controls but tab and line breaks, DEL, _C1
# controls but NEL, U+FFFE and U+FFFF. In UTF-8 the last two kinds start with C2 or EF,
# which other characters share: a search for one byte class is about four times as fast
# as one for the sequences, so the few candidates it finds are checked one by one.
_SUSPECT = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\xc2\xef]")
_C1 = frozenset(range(0x80, 0xA0)) - {0x85}
FORBIDDEN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff]")


def forbidden_at(raw: bytes, offset: int) -> tuple[int, int] | None:
    """The byte offset and code point of the first character YAML forbids from ``offset``."""
    while (found := _SUSPECT.search(raw, offset)) is not None:
        at = found.start()
        lead = raw[at]
        if lead == 0xC2:
            if at + 1 < len(raw) and raw[at + 1] in _C1:
                return at, raw[at + 1]
        elif lead == 0xEF:
            if raw[at + 1 : at + 3] in (b"\xbf\xbe", b"\xbf\xbf"):
                return at, 0xFFFE + (raw[at + 2] == 0xBF)
        else:
            return at, lead
        offset = at + 1
    return None


@dataclass(frozen=True, slots=True)
class Forbidden:
    start: int  # where the document holding it starts (its ``---`` line, or the part's start)
    at: int  # the character's byte offset
    shown: str  # ``#x0001``

    reason = "control characters are not allowed"


def forbidden_document(raw: bytes, offset: int) -> Forbidden | None:
    """The first character YAML forbids from byte ``offset`` on, and its document's start."""
    found = forbidden_at(raw, offset)
    if found is None:
        return None
    at, code = found
    start = offset
    for marker in MARKER.finditer(raw, offset, at):
        start = marker.start()
    return Forbidden(start, at, f"#x{code:04x}")
