"""Scalars under the YAML 1.2 core schema, as Backstage's npm ``yaml`` reads them.

Used by :mod:`trueup.parse.catalog_yaml` for every scalar it builds: ``no``,
``on``, ``2024-01-01`` and ``1:20`` stay strings, ``0777`` is 777, ``1e3`` is
1000.0, a number past a double's range is infinite; a mapping key is the string
JavaScript's ``String()`` makes of it.
"""

from __future__ import annotations

import math
import re
from typing import Any

SCALAR_KINDS = frozenset({"str", "int", "float", "bool", "null"})

# The plain scalars that are no string, and the first characters of a number: a plain
# scalar that is neither is itself, as a caller can tell without calling
# resolve_plain_scalar.
_NULL = frozenset({"", "~", "null", "Null", "NULL"})
PLAIN_CONSTANTS: dict[str, Any] = {
    **dict.fromkeys(_NULL),
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
}
NUMBER_START = frozenset("0123456789+-.")
_INT = re.compile(r"[-+]?[0-9]+").fullmatch
_OCT = re.compile(r"0o[0-7]+").fullmatch
_HEX = re.compile(r"0x[0-9a-fA-F]+").fullmatch
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?").fullmatch
_NOT_FOUND = object()


def resolve_plain_scalar(text: str) -> Any:
    """A plain (unquoted, untagged) scalar under the YAML 1.2 core schema."""
    value = PLAIN_CONSTANTS.get(text, _NOT_FOUND)
    if value is not _NOT_FOUND:
        return value
    if text[0] not in NUMBER_START:
        return text
    if _INT(text):
        return _in_double_range(text, 10) if len(text) > 300 else int(text)
    if _OCT(text):
        return _in_double_range(text[2:], 8)
    if _HEX(text):
        return _in_double_range(text[2:], 16)
    if _FLOAT(text):
        return float(text)
    return text


def _in_double_range(digits: str, base: int) -> int | float:
    """An integer, or +-inf past a double's range as JavaScript's Number would give.

    Unbounded ints are also a hazard here: ``str()`` and ``json.dumps`` refuse
    past 4,300 digits.
    """
    sign = -1 if digits.startswith("-") else 1
    significant = digits.lstrip("+-").lstrip("0") or "0"
    # 400 digits hold over 1,024 bits in base 8, 10 and 16 alike.
    if len(significant) > 400 or (number := int(significant, base)).bit_length() > 1024:
        return sign * math.inf
    return sign * number


def resolve_tagged(kind: str, text: str) -> Any:
    """A scalar with an explicit core tag (``kind`` is one of :data:`SCALAR_KINDS`); raises
    ValueError when it does not fit."""
    if kind == "str":
        return text
    resolved = resolve_plain_scalar(text) if text else None
    if kind == "null" and resolved is None:
        return None
    if isinstance(resolved, bool):
        if kind == "bool":
            return resolved
    elif isinstance(resolved, int) and kind in ("int", "float"):
        return resolved if kind == "int" else float(resolved)
    elif isinstance(resolved, float) and kind == "float":
        return resolved
    raise ValueError(kind)


def key_text(value: Any) -> str:
    """A scalar key as the string JavaScript's ``String()`` makes of it."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return str(value)
