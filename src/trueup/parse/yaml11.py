"""Plain scalars that a ``%YAML 1.1`` directive makes Backstage read otherwise.

trueup reads every catalog file under the YAML 1.2 core schema
(:mod:`trueup.parse.core_schema`). Backstage's npm ``yaml`` does too, except after
a ``%YAML 1.1`` directive: that document and the file's later ones are read under
its ``yaml-1.1`` schema, where ``no`` is false, ``0777`` is 511, ``1:20`` is 80,
and ``2024-01-01`` is a date (the catalog parses with ``merge: false``, so
``<<`` stays a key under both). Reading such a scalar either way would be
silently wrong for someone, so :func:`read_otherwise` tells the parser which
scalars the two schemas disagree on; the parser records the first on its
document (rule :data:`YAML_1_1`, naming the field), and the descriptor reader
refuses such an entity as ``invalid-entity`` (its last good observation kept).
A 1.1 document whose scalars read alike, the usual case, is read as any other.

The patterns and their order are those of npm ``yaml`` 2.x's ``yaml-1.1`` schema
(``dist/schema/yaml-1.1``): the first that matches a plain scalar decides it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from trueup.parse.core_schema import PLAIN_CONSTANTS

YAML_1_1 = "yaml-1.1"  # the rule a refused entity's finding names

_TRUE = frozenset(["Y", "y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"])
_FALSE = frozenset(["N", "n", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"])


def _integer(radix: int, prefix: int) -> Callable[[str], Any]:
    """npm ``yaml``'s ``intResolve``: a sign, ``prefix`` characters, digits and ``_``."""

    def read(text: str) -> Any:
        sign = text[0] in "+-"
        digits = text[sign + prefix :].replace("_", "")
        value = int(digits, radix) if digits else math.nan
        return -value if text[0] == "-" else value

    return read


def _js_float(text: str) -> float:
    """JavaScript's ``parseFloat`` of a text the float patterns matched (``_`` dropped)."""
    try:
        return float(text.replace("_", ""))
    except ValueError:  # "." or "e5": no digits before the exponent
        return math.nan


def _sexagesimal(text: str) -> float:
    sign = -1 if text[0] == "-" else 1
    value = 0.0
    for part in text.lstrip("+-").replace("_", "").split(":"):
        value = value * 60 + float(part)
    return sign * value


_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:t|T|[ \t]+)[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?"
    r"(?:[ \t]*(?:Z|[-+][012]?[0-9](?::[0-9]{2})?))?)?"
)

_DATE = "a date"
# (pattern, reading) in the schema's order; a reading that is a str names what it becomes.
_NUMBERS: list[tuple[Callable[[str], Any], Callable[[str], Any] | str]] = [
    (re.compile(r"[-+]?0b[01_]+").fullmatch, _integer(2, 2)),
    (re.compile(r"[-+]?0[0-7_]+").fullmatch, _integer(8, 1)),
    (re.compile(r"[-+]?[0-9][0-9_]*").fullmatch, _integer(10, 0)),
    (re.compile(r"[-+]?0x[0-9a-fA-F_]+").fullmatch, _integer(16, 2)),
    (re.compile(r"[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+").fullmatch, _js_float),
    (re.compile(r"[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*").fullmatch, _js_float),
    (re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?").fullmatch, _sexagesimal),
    (_TIMESTAMP.fullmatch, _DATE),
]
# A plain scalar starting otherwise is a string under both schemas ("e5" is NaN in 1.1).
_MAY_DIFFER = frozenset("0123456789+-.eE") | {w[0] for w in (*_TRUE, *_FALSE)}


def read_otherwise(text: str, value: Any) -> str | None:
    """How the YAML 1.1 schema reads the plain scalar ``text``, shown, when that is not
    ``value`` (its YAML 1.2 reading); None when both read it alike."""
    if not text or text[0] not in _MAY_DIFFER:
        return None
    if text in _TRUE or text in _FALSE:
        other: Any = text in _TRUE
    elif text in PLAIN_CONSTANTS:
        return None  # the null, infinity and NaN words: alike in both schemas
    else:
        for matches, reading in _NUMBERS:
            if matches(text):
                if isinstance(reading, str):
                    return reading
                other = reading(text)
                break
        else:
            other = text  # a string (YAML 1.2 reads "0o17" as a number)
    if _alike(other, value):
        return None
    return _shown(other)


def read_as(other: str) -> str:
    """The end of the refusal's message, for a scalar read as ``other`` under YAML 1.1."""
    return (
        f"is read as {other} under the file's %YAML 1.1 directive, as Backstage reads it, "
        "but not under YAML 1.2, as trueup reads it: quote it, or remove the directive"
    )


def _alike(other: Any, value: Any) -> bool:
    if isinstance(other, str):
        return bool(other == value)
    if isinstance(other, bool) or isinstance(value, bool):
        return type(other) is type(value) and bool(other == value)
    if not isinstance(value, int | float):
        return False
    if isinstance(other, float) and math.isnan(other):
        return isinstance(value, float) and math.isnan(value)
    return bool(other == value)


def _shown(other: Any) -> str:
    if isinstance(other, str):
        return f"the string {other!r}"
    if isinstance(other, bool):
        return "true" if other else "false"
    if isinstance(other, float) and other.is_integer():
        return str(int(other))
    return "NaN" if isinstance(other, float) and math.isnan(other) else str(other)
