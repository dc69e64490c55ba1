"""The one place that renders text for a terminal: data is shown as data.

File names, entity names, messages and values come from sources anyone can
write to. Printed raw, a newline in a file name forges a line of ``trueup
check``, an escape sequence recolours (or retitles, or rewrites) the terminal,
``[bold]`` is Rich markup and ``:x:`` an emoji code. Every CLI command prints
through this module:

- :func:`clean` makes one value safe: secrets masked
  (:func:`trueup.redaction.redact_text`), then every control character (C0,
  DEL, C1), line and paragraph separator and bidirectional override shown as a
  visible escape (``\\n``, ``\\x1b``, ``\\u202e``), so one value is one line;
- the consoles never interpret markup, emoji codes or highlighting: styled
  output is built from :class:`rich.text.Text` parts, never parsed from a string;
- :func:`say` prints one line made of parts, each cleaned; :func:`say_block`
  prints trusted multi-line text (a YAML dump, an error of several lines) line
  by line, each line cleaned; :func:`cell` is a table cell.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

from trueup.redaction import redact_text

console = Console(highlight=False, markup=False, emoji=False)
console_err = Console(stderr=True, highlight=False, markup=False, emoji=False)

# C0 controls (tab included: it moves the cursor), DEL, C1 controls, the Unicode line
# and paragraph separators, and the bidirectional formatting characters.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

Part = str | tuple[str, str]  # text, or (text, Rich style name)


def _visible(match: re.Match[str]) -> str:
    char = match.group(0)
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def clean(value: object) -> str:
    """One value as one safe line: secrets masked, control characters made visible."""
    return _UNSAFE.sub(_visible, redact_text(str(value)))


def cell(value: object, style: str = "") -> Text:
    """A table cell (or any renderable) holding ``value`` as cleaned plain text."""
    return Text(clean(value), style=style)


def line(*parts: Part) -> Text:
    """One line from parts; every part cleaned, styles applied, nothing interpreted."""
    text = Text()
    for part in parts:
        if isinstance(part, tuple):
            text.append(clean(part[0]), style=part[1])
        else:
            text.append(clean(part))
    return text


def say(*parts: Part, err: bool = False) -> None:
    """Print one line made of ``parts`` (see :func:`line`), never wrapped."""
    (console_err if err else console).print(line(*parts), soft_wrap=True)


def say_block(text: str, *, err: bool = False, style: str = "") -> None:
    """Print text of several lines, each line cleaned (its own newlines kept)."""
    target = console_err if err else console
    for row in _lines(text):
        target.print(Text(clean(row), style=style), soft_wrap=True)


def _lines(text: str) -> Iterable[str]:
    rows = text.split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    return rows
