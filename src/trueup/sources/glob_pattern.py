"""Glob patterns as Backstage's readers read a Location target (pure).

Backstage's ``FileReaderProcessor`` hands every ``file`` Location target to the
``glob`` package (14, on minimatch 11, default options and ``windowsPathsNoEscape``)
and reads every match; its URL readers for git hosts match a glob target against the
repository's tree (``search``, minimatch too). :func:`glob_patterns` tells such a glob
from a plain path and expands its braces; :func:`compile_segment` turns one segment of
a pattern into a name matcher. Shared by the sources that follow globs, each walking
its own tree: :mod:`trueup.sources.file.targets` a folder,
:mod:`trueup.sources.repository_catalog.tree_glob` a commit (git and github sources).
What they follow, as minimatch does:

- ``\\`` is a path separator, never an escape;
- ``{a,b}`` (nested too), ``{1..3}``, ``{01..10..2}`` and ``{a..e}`` expand first;
  a brace that is not one of these stays literal, as does ``${…}``;
- ``*`` matches any run of characters within a name, ``?`` one character, ``[…]``
  one of a set (ranges ``a-z``; ``[!…]`` and ``[^…]`` negate);
- ``**`` as a whole segment matches any number of folders, none included; inside a
  segment it is ``*``;
- a name that starts with ``.`` is matched only by a segment that starts with one:
  neither ``*``, ``?``, a set nor ``**`` matches it.

Not followed, said so in a finding rather than guessed: extended globs
(``+(a|b)``, ``!(x)``…), POSIX classes (``[[:alpha:]]``) and a pattern whose braces
expand to more than :data:`MAX_PATTERNS` patterns (Backstage allows 100,000).

Braces are expanded by ``bracex`` (bash's rules, as minimatch's ``brace-expansion``).
A segment is matched by a regular expression of its own rather than ``wcmatch``'s: a
``*`` is matched without backtracking over what the next one will match (as
:func:`fnmatch.translate` does), so a hostile pattern like ``*a*a*a*a*b`` in a catalog
file stays linear on a long file name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

import bracex

MAX_PATTERNS = 1000  # patterns one target may expand to
MAX_LENGTH = 4096  # characters of a glob target (PATH_MAX)
MAX_DEPTH = 32  # braces open at once (bracex recurses once for each)


class Globstar(Enum):
    """A ``**`` segment: any number of folders, none included."""

    SEGMENT = "**"


GLOBSTAR = Globstar.SEGMENT

# A segment of a pattern: a literal name, a compiled name pattern, or ``**``.
Segment = str | re.Pattern[str] | Globstar


@dataclass(frozen=True, slots=True)
class NotFollowed:
    """Why a glob target is not followed."""

    reason: str


def glob_patterns(target: str) -> tuple[str, ...] | NotFollowed | None:
    """The patterns a glob target expands to; None for a plain path (no glob character)."""
    text = target.replace("\\", "/")
    if len(text) > MAX_LENGTH and any(char in text for char in "{[*?"):
        return NotFollowed(f"is longer than {MAX_LENGTH} characters; not followed")
    if _brace_depth(text) > MAX_DEPTH:
        return NotFollowed(f"nests its braces more than {MAX_DEPTH} deep; not followed")
    expanded = _expand(text)
    if expanded is None:
        return NotFollowed(f"expands to more than {MAX_PATTERNS} patterns; not followed")
    if any(_EXTGLOB.search(p) for p in expanded):
        return NotFollowed("uses an extended glob pattern, which trueup does not follow")
    if expanded == [text] and not _has_magic(text):
        return None
    for pattern in expanded:
        if _POSIX_CLASS.search(pattern):
            return NotFollowed("uses a POSIX character class, which trueup does not follow")
    return tuple(dict.fromkeys(p for p in expanded if p))


def compile_segment(segment: str) -> Segment:
    """One segment (no ``/``) as a literal name, a name pattern (for ``fullmatch``) or ``**``."""
    if segment == "**":
        return GLOBSTAR
    tokens = _tokens(segment)
    if all(t.literal is not None for t in tokens):
        return "".join(t.literal or "" for t in tokens)
    out = ["(?!\\.)" if tokens[0].literal is None else ""]  # a dot is matched literally
    i, n = 0, len(tokens)
    while i < n and not tokens[i].star:
        out.append(tokens[i].regex)
        i += 1
    while i < n:  # at a star: what follows up to the next star is matched atomically
        i += 1
        fixed = []
        while i < n and not tokens[i].star:
            fixed.append(tokens[i].regex)
            i += 1
        out.append(f".*{''.join(fixed)}" if i == n else f"(?>.*?{''.join(fixed)})")
    return re.compile("".join(out), re.DOTALL)


# --- inside a segment ---------------------------------------------------------------

_EXTGLOB = re.compile(r"[?*+@!]\([^/]*\)")
_POSIX_CLASS = re.compile(r"\[[^/]*\[:[a-z]+:\]")


@dataclass(frozen=True, slots=True)
class _Token:
    regex: str
    literal: str | None = None  # the one character it matches, when it is fixed
    star: bool = False


_STAR = _Token("", star=True)


def _has_magic(text: str) -> bool:
    return "*" in text or "?" in text or any(len(_tokens(s)) < len(s) for s in text.split("/"))


def _tokens(segment: str) -> list[_Token]:
    """A segment's tokens; runs of ``*`` are one star, a set is one token."""
    tokens: list[_Token] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            if not tokens or not tokens[-1].star:
                tokens.append(_STAR)
            i += 1
        elif char == "?":
            tokens.append(_Token("."))
            i += 1
        elif char == "[" and (parsed := _character_set(segment, i)) is not None:
            token, i = parsed
            tokens.append(token)
        else:
            tokens.append(_Token(re.escape(char), char))
            i += 1
    return tokens


def _character_set(segment: str, start: int) -> tuple[_Token, int] | None:
    """The set that opens at ``start`` and the index after it; None when it does not close.

    A ``]`` must follow beyond the set's first character: without one, the ``[`` is a
    literal at once (scanning on from each of a run of unclosed ``[`` was quadratic).
    """
    if segment.rfind("]") <= start + 1:
        return None
    i = start + 1
    negate = segment[i : i + 1] in ("!", "^")
    i += negate
    ranges: list[tuple[str, str]] = []
    first = True
    while i < len(segment):
        char = segment[i]
        if char == "]" and not first:
            break
        first = False
        if i + 2 < len(segment) and segment[i + 1] == "-" and segment[i + 2] != "]":
            ranges.append((char, segment[i + 2]))
            i += 3
        else:
            ranges.append((char, char))
            i += 1
    else:
        return None
    if not negate and len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        only = ranges[0][0]
        return _Token(re.escape(only), only), i + 1
    body = "".join(
        re.escape(low) if low == high else f"{re.escape(low)}-{re.escape(high)}"
        for low, high in ranges
        if low <= high  # minimatch: a reversed range matches nothing
    )
    if not body:
        return _Token("." if negate else "(?!)"), i + 1
    return _Token(f"[{'^' if negate else ''}{body}]"), i + 1


# --- braces ---------------------------------------------------------------------------


def _brace_depth(text: str) -> int:
    """How many braces are open at once at most, closed or not."""
    depth = deepest = 0
    for char in text:
        if char == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif char == "}" and depth:
            depth -= 1
    return deepest


def _expand(text: str) -> list[str] | None:
    """Every pattern the braces of ``text`` expand to, in order (bash's brace expansion, as
    minimatch's ``brace-expansion`` does it: lists, nesting, ``{1..3}``, ``{01..10..2}``,
    ``{a..e}``; ``${…}`` stays); None when they are more than :data:`MAX_PATTERNS`."""
    try:
        return list(bracex.expand(text, limit=MAX_PATTERNS))
    except bracex.ExpansionLimitException:
        return None


__all__ = [
    "GLOBSTAR",
    "MAX_PATTERNS",
    "Globstar",
    "NotFollowed",
    "Segment",
    "compile_segment",
    "glob_patterns",
]
