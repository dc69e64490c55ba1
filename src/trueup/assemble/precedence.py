"""Which source wins which field (truth rule 1).

``merge.precedence`` maps field-path patterns to ordered source ids. The most
specific pattern that matches a path applies: an exact path beats a glob, a
longer literal prefix beats a shorter one, and ``*`` is the default. Sources
the pattern does not list come after the listed ones, intent before actual;
ties break on source, scope and locator, so the result never depends on the
order in which things were read.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from trueup.model.assembled import Candidate
from trueup.model.observation import Nature

DEFAULT_PATTERN = "*"  # applies only where no other pattern matches


@dataclass(frozen=True)
class Precedence:
    """The configured precedence plus the order sources were configured in."""

    rules: Mapping[str, Sequence[str]]
    source_order: Sequence[str]

    def order(self, path: str) -> tuple[str, ...]:
        return _order(self, path)

    def rank(self, path: str, candidates: Sequence[Candidate]) -> list[Candidate]:
        """Candidates best first."""
        if len(candidates) == 1:
            return list(candidates)
        listed = self.order(path)
        position = {source: i for i, source in enumerate(listed)}
        configured = _positions(tuple(self.source_order))
        unlisted = len(listed)

        def key(c: Candidate) -> tuple[int, int, int, str, str, tuple[str, int], str]:
            p = c.provenance
            return (
                position.get(p.source, unlisted),
                0 if c.nature is Nature.INTENT else 1,
                configured.get(p.source, len(configured)),
                p.source,
                p.scope,
                declared_at(p.locator),
                p.locator,
            )

        return sorted(candidates, key=key)

    def __hash__(self) -> int:
        return id(self)


def stable_locator(locator: str) -> str:
    """The locator without the version it was read at: ``repo@sha:path#0`` → ``path#0``.

    Ties between two declarations in one source break on where they are
    declared (path and document), never on a content hash or commit that changes
    with unrelated edits.
    """
    head, colon, rest = locator.partition(":")
    return rest if colon and "@" in head else locator


def declared_at(locator: str) -> tuple[str, int]:
    """Where a declaration is, for ordering: (path, numeric document index).

    ``repo@sha:teams/a.yaml#10`` → ``("teams/a.yaml", 10)``, so that document 9
    comes before document 10 (their text would sort the other way). A locator
    that names no document orders after the ones that do, by its stable text.
    """
    stable = stable_locator(locator)
    head, hash_, index = stable.rpartition("#")
    if hash_ and index.isdigit():
        return head, int(index)
    return stable, -1


@lru_cache(maxsize=64)
def _positions(order: tuple[str, ...]) -> dict[str, int]:
    return {source: i for i, source in enumerate(order)}


@lru_cache(maxsize=4096)
def _order(precedence: Precedence, path: str) -> tuple[str, ...]:
    rules = precedence.rules
    if path in rules:
        return tuple(rules[path])
    best: tuple[int, str] | None = None
    for pattern in rules:
        if pattern != DEFAULT_PATTERN and fnmatch.fnmatchcase(path, pattern):
            literal = len(pattern.split("*", 1)[0])
            if best is None or literal > best[0]:
                best = (literal, pattern)
    if best is not None:
        return tuple(rules[best[1]])
    return tuple(rules.get(DEFAULT_PATTERN, ()))
