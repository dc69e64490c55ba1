"""Where a glob Location target leads in one commit: every file of its tree it matches (pure).

Backstage's URL readers for git hosts follow a glob target in a repository (their
``search`` lists the tree and keeps the blobs that match), as its file reader follows
one in a folder. trueup follows it with the file source's rules
(:mod:`trueup.sources.glob_pattern`: braces, ``*``, ``?``, sets, ``**``, names that
start with a dot, the refusals of a hostile glob), over the commit's regular files:

- :func:`glob_target` tells a glob target from a plain path and makes each pattern its
  braces expand to relative to the repository's root (relative to the folder of the
  file that names it; one that leads out of the repository is refused);
- :class:`TreeGlobs` matches patterns against the files of one commit, listed once:
  a symbolic link or a submodule is no file here (as for a plain target), nor is a
  folder; a pattern asked twice in a read is matched once.
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from trueup.sources.glob_pattern import GLOBSTAR, NotFollowed, Segment, compile_segment
from trueup.sources.glob_pattern import glob_patterns as expand

OUTSIDE = "is outside the repository"
NO_MATCH = "matches no file"


@dataclass(frozen=True, slots=True)
class GlobTarget:
    """A glob target: its patterns relative to the root, and why any other is not followed."""

    patterns: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


def glob_target(folder: str, target: str) -> GlobTarget | None:
    """``target``, named in a file of ``folder`` (``""``: the root), when it is a glob."""
    patterns = expand(target)
    if patterns is None:
        return None
    if isinstance(patterns, NotFollowed):
        return GlobTarget(problems=(patterns.reason,))
    inside: list[str] = []
    problems: list[str] = []
    for pattern in patterns:
        joined = posixpath.normpath(posixpath.join(folder, pattern))
        if pattern.startswith("/") or joined == ".." or joined.startswith("../"):
            problems.append(OUTSIDE)
        elif joined != ".":  # the root itself is no file
            inside.append(joined)
    return GlobTarget(tuple(dict.fromkeys(inside)), tuple(dict.fromkeys(problems)))


class TreeGlobs:
    """The regular files of one commit (path → blob) and the patterns matched against them."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = files
        self._folders: dict[str, dict[str, bool]] | None = None
        self._matched: dict[str, dict[str, str]] = {}

    def match(self, patterns: Collection[str]) -> dict[str, dict[str, str]]:
        """The files (path → blob) each pattern (relative to the root, normalised) matches."""
        return {pattern: self._match(pattern) for pattern in patterns}

    def _match(self, pattern: str) -> dict[str, str]:
        found = self._matched.get(pattern)
        if found is not None:
            return found
        segments: list[Segment] = []
        for text in pattern.split("/"):
            segment = compile_segment(text)
            if not (segment is GLOBSTAR and segments and segments[-1] is GLOBSTAR):
                segments.append(segment)  # ``**/**`` is ``**``
        current = {""}
        for position, segment in enumerate(segments):
            last = position == len(segments) - 1
            if isinstance(segment, str):
                current = {_join(base, segment) for base in current}
            elif segment is GLOBSTAR:
                current = self._below(current, last)
            else:
                current = {
                    _join(base, name)
                    for base in current
                    for name, folder in self._listing(base).items()
                    if (folder or last) and segment.fullmatch(name)
                }
            if not current:
                break
        found = {path: self.files[path] for path in sorted(current) if path in self.files}
        self._matched[pattern] = found
        return found

    def _below(self, bases: set[str], last: bool) -> set[str]:
        """``bases`` and every folder under them (files too when ``**`` ends the pattern);
        names that start with a dot are not matched, nor entered. Each folder is listed
        once however many bases lie above it."""
        reached = set(bases)
        folders = list(bases)
        while folders:
            folder = folders.pop()
            for name, is_folder in self._listing(folder).items():
                if name.startswith("."):
                    continue
                path = _join(folder, name)
                if is_folder:
                    if path not in reached:
                        reached.add(path)
                        folders.append(path)
                elif last:
                    reached.add(path)
        return reached

    def _listing(self, folder: str) -> dict[str, bool]:
        """The names in ``folder`` and whether each is a folder (none for a file or nothing)."""
        if self._folders is None:
            self._folders = _folders(self.files)
        return self._folders.get(folder, {})


def _folders(files: Collection[str]) -> dict[str, dict[str, bool]]:
    """Every folder of the tree its files imply: folder → {name: is a folder}."""
    folders: dict[str, dict[str, bool]] = {}
    for path in files:
        parent = ""
        parts = path.split("/")
        for index, name in enumerate(parts):
            folders.setdefault(parent, {})[name] = index < len(parts) - 1
            parent = _join(parent, name)
    return folders


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


__all__ = ["NO_MATCH", "OUTSIDE", "GlobTarget", "TreeGlobs", "glob_target"]
