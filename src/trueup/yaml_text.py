"""A small, fast block-style YAML writer: the feed, the sinks and the generated worlds.

A general YAML dumper costs about a millisecond per entity, too slow for a
feed of 100,000 entities, so this module turns plain data (dicts, lists,
strings, ints, floats, bools, None) into block YAML with string operations.
Strings that are safe as plain scalars under both YAML 1.1 (PyYAML) and YAML
1.2 (Backstage's parser) are written plain, multi-line text as a literal block,
everything else as a JSON string (a JSON string is a valid YAML double-quoted
scalar). The output parses back to exactly the input under both; a test checks
that on generated data. Called by :mod:`trueup.feed` and
:mod:`trueup.world`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

# Letters first (never a number, date, anchor, tag or indicator), then only
# characters that mean nothing special inside a block-context plain scalar.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9 ._/@+,()'%:-]*")
# Words that YAML 1.1 or 1.2 would read as a bool or null rather than a string.
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
_RESERVED_LONGEST = max(map(len, _RESERVED))
# Characters YAML forbids unescaped, or reads as line breaks (NEL, LS, PS).
_UNSAFE = re.compile("[\x7f-\x84\x86-\x9f\x85\u2028\u2029\ufeff\ufffe\uffff]")
_SEEN: dict[str, str] = {}
_SEEN_MAX = 4096
_json_string = json.JSONEncoder(ensure_ascii=False).encode


def dump_document(value: Mapping[str, object]) -> str:
    """One YAML document (a mapping) as block text ending with a newline."""
    lines: list[str] = []
    _mapping(value, "", lines)
    return "\n".join(lines) + "\n"


def dump_documents(values: Iterable[Mapping[str, object]]) -> str:
    """A multi-document file: each document starts with ``---``."""
    return "".join("---\n" + dump_document(value) for value in values)


def scalar(value: object) -> str:
    """A scalar as YAML text that reads back as the same value."""
    if isinstance(value, str):
        text = _SEEN.get(value)
        return _string(value) if text is None else text
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if value in (float("inf"), float("-inf")):
            return ".inf" if value > 0 else "-.inf"
        mantissa, e, exponent = repr(value).partition("e")
        if "." not in mantissa:
            mantissa += ".0"  # YAML 1.1 readers need the dot, with or without an exponent
        return mantissa + (
            f"e{exponent}" if e and exponent[0] in "+-" else f"e+{exponent}" if e else ""
        )
    raise TypeError(f"cannot write {type(value).__name__} as a YAML scalar")


def _string(value: str) -> str:
    """A string's text (not in the memo), remembered while the memo has room."""
    if (
        _PLAIN.fullmatch(value)  # so not empty
        and ": " not in value
        and value[-1] not in ": "
        and "  " not in value
        and (len(value) > _RESERVED_LONGEST or value.lower() not in _RESERVED)
    ):
        text = value
    else:
        text = _quoted(value)
    if len(_SEEN) < _SEEN_MAX:  # keys and common values; names are unique
        _SEEN[value] = text
    return text


def _quoted(text: str) -> str:
    quoted = _json_string(text)  # as json.dumps(text, ensure_ascii=False) writes it
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def _literal(text: str) -> str | None:
    """``|`` or ``|-`` block lines for multi-line text, or None when it cannot be one."""
    if text.endswith("\n"):
        indicator, body = "|", text[:-1]
    else:
        indicator, body = "|-", text
    if (
        not body
        or body.endswith("\n")
        or body[0] in " \n"
        or "\t" in body
        or "\r" in body
        or _UNSAFE.search(body)
    ):
        return None
    for line in body.split("\n"):
        if line != line.rstrip(" ") and not line.strip():
            return None  # a line of spaces would change the indentation
    return indicator + "\n" + body


# The writer's time goes mostly to Python calls: a key, or a value that is a one-line
# string, is written without one when the memo already holds its text (most keys and
# many values), and a nested mapping (the commonest block) without the dispatch of
# ``_entry`` and ``_block``.


def _mapping(value: Mapping[str, object], pad: str, lines: list[str]) -> None:
    seen, append = _SEEN.get, lines.append
    for key, item in value.items():
        name = seen(key) or scalar(key)
        if type(item) is str and "\n" not in item:
            append(f"{pad}{name}: {seen(item) or _string(item)}")
        elif type(item) is dict and item:
            append(f"{pad}{name}:")
            _mapping(item, pad + "  ", lines)
        else:
            _entry(f"{pad}{name}:", item, pad, lines)


def _sequence(value: Sequence[object], pad: str, lines: list[str]) -> None:
    seen, append = _SEEN.get, lines.append
    for item in value:
        if type(item) is str and "\n" not in item:
            append(f"{pad}- {seen(item) or _string(item)}")
        elif type(item) is dict and item:  # its first line joins the dash
            inner = pad + "  "
            start = len(lines)
            _mapping(item, inner, lines)
            lines[start] = f"{pad}- {lines[start][len(inner) :]}"
        else:
            _entry(f"{pad}-", item, pad, lines)


def _entry(head: str, item: object, pad: str, lines: list[str]) -> None:
    """``head`` is ``key:`` or ``-``; nested blocks go two spaces deeper."""
    if isinstance(item, str):
        if "\n" in item and (block := _literal(item)) is not None:
            indicator, _, body = block.partition("\n")
            lines.append(f"{head} {indicator}")
            inner = pad + "  "
            lines.extend(inner + line if line else "" for line in body.split("\n"))
        else:
            lines.append(f"{head} {scalar(item)}")
    elif isinstance(item, (dict, Mapping)):  # dict first: the ABC's check is slow
        _block(head, item, _mapping, pad, lines)
    elif isinstance(item, list | tuple):
        _block(head, item, _sequence, pad, lines)
    else:
        lines.append(f"{head} {scalar(item)}")


def _block(
    head: str,
    item: Any,
    write: Callable[[Any, str, list[str]], None],
    pad: str,
    lines: list[str],
) -> None:
    """A nested mapping or sequence; under ``-`` its first line joins the dash."""
    if not item:
        lines.append(head + (" {}" if isinstance(item, Mapping) else " []"))
        return
    inner = pad + "  "
    if head.endswith("-"):
        start = len(lines)
        write(item, inner, lines)
        lines[start] = head + " " + lines[start][len(inner) :]
    else:
        lines.append(head)
        write(item, inner, lines)
