"""Where a file source's Location target leads in its folder: one path, or a glob's matches.

Used by :mod:`trueup.sources.file.source` for each ``file`` target, one
:class:`FolderTargets` per read (folder listings are kept for the read). A target
is relative to the folder of the file that names it (an absolute one stands as it
is); after ``..`` are resolved it must lie inside the source's folder.

A target with glob characters (:mod:`trueup.sources.glob_pattern`) is followed
to every match, as Backstage's file reader follows it; one that matches nothing is
reported (Backstage: ``file … does not exist``). The path policy applies to every
match as to a plain target (:func:`~trueup.path_policy.check_under`): a link that
leads out of the folder, a FIFO or a folder is reported and never read. A wildcard
or ``**`` never enters a link to a folder (the listing reports each such link
already; Backstage's ``glob`` follows one below a ``**``), and a folder a literal
segment names is listed only when it resolves inside the folder. A folder that
cannot be listed is passed over, as ``glob`` passes over it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from trueup.model.observation import show_path, unstorable_rule
from trueup.path_policy import Rule, check_under
from trueup.sources.glob_pattern import (
    GLOBSTAR,
    NotFollowed,
    Segment,
    compile_segment,
    glob_patterns,
)


@dataclass(frozen=True, slots=True)
class Followed:
    """Where one target leads: the files to read, and why anything else it names is not."""

    paths: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    # A glob may match the file that names it (``./**/catalog-info.yaml``): no loop.
    glob: bool = False
    missing: bool = False  # it names nothing that is there (an optional target may)


class FolderTargets:
    """Resolves Location targets inside one folder, for one read of it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._listings: dict[str, list[tuple[str, bool]] | None] = {}
        self._inside: set[str] = {""}  # folders known to resolve inside the root

    def follow(self, base_file: str, target: str) -> Followed:
        """The files ``target``, named in ``base_file`` (relative to the root), leads to."""
        patterns = glob_patterns(target)
        if patterns is None:
            return self._plain(base_file, target)
        if isinstance(patterns, NotFollowed):
            return Followed(problems=(patterns.reason,), glob=True)
        problems: list[str] = []
        found: set[str] = set()
        for pattern in patterns:
            relative = self._relative(base_file, pattern)
            if relative is None:
                problems.append(f"is outside the folder {self.root}")
            else:
                found |= self._matches(relative)
        paths: list[str] = []
        for path in sorted(found):
            if unstorable_rule(path) is not None:
                why = "whose name is not UTF-8 text, which cannot be stored; not read"
                problems.append(f"matches {show_path(path)}, {why}")
            elif (refused := check_under(self.root, path)) is not None:
                problems.append(f"matches {path}, which {refused.reason}")
            else:
                paths.append(path)
        if not found and not problems:
            return Followed(problems=("matches no file",), glob=True, missing=True)
        return Followed(tuple(paths), tuple(dict.fromkeys(problems)), glob=True)

    def _plain(self, base_file: str, target: str) -> Followed:
        relative = self._relative(base_file, target)
        if relative is None:
            return Followed(problems=(f"is outside the folder {self.root}",))
        refused = check_under(self.root, relative)
        if refused is not None:
            return Followed(problems=(refused.reason,), missing=refused.rule is Rule.MISSING)
        return Followed(paths=(relative,))

    def _relative(self, base_file: str, target: str) -> str | None:
        """``target`` relative to the root, ``..`` resolved; None when it leads out of it."""
        lexical = Path(os.path.normpath((self.root / base_file).parent / target))
        try:
            return lexical.relative_to(self.root).as_posix()
        except ValueError:
            return None

    def _matches(self, pattern: str) -> set[str]:
        """The paths ``pattern`` matches, plus each folder on the way that leads outside."""
        segments = [compile_segment(s) for s in pattern.split("/")]
        current = {""}
        outside: set[str] = set()
        for position, segment in enumerate(segments):
            last = position == len(segments) - 1
            reached: set[str] = set()
            for base in current:
                reached |= self._step(base, segment, last, outside)
            current = reached
        matched = {p for p in current if p and os.path.lexists(self.root / p)}
        return matched | outside

    def _step(self, base: str, segment: Segment, last: bool, outside: set[str]) -> set[str]:
        """The paths one segment reaches from folder ``base``."""
        if isinstance(segment, str):
            return {_join(base, segment)}  # whether it exists is seen when it is listed
        if segment is GLOBSTAR:
            return self._below(base, last, outside)
        listing = self._listing(base, outside)
        return {
            _join(base, name)
            for name, folder in listing
            if (folder or last) and segment.fullmatch(name)
        }

    def _below(self, base: str, last: bool, outside: set[str]) -> set[str]:
        """``base`` and every folder under it (files too when ``**`` ends the pattern);
        names that start with a dot are not matched, nor entered."""
        reached = {base}
        folders = [base]
        while folders:
            folder = folders.pop()
            for name, is_folder in self._listing(folder, outside):
                if name.startswith("."):
                    continue
                path = _join(folder, name)
                if is_folder:
                    reached.add(path)
                    folders.append(path)
                elif last:
                    reached.add(path)
        return reached

    def _listing(self, folder: str, outside: set[str]) -> list[tuple[str, bool]]:
        """The names in ``folder`` and whether each is a folder (a link is not); nothing
        for a folder that resolves outside the root (added to ``outside``)."""
        if folder not in self._listings:
            self._listings[folder] = self._list(folder)
        listing = self._listings[folder]
        if listing is None:
            outside.add(folder)
            return []
        return listing

    def _list(self, folder: str) -> list[tuple[str, bool]] | None:
        if folder not in self._inside:
            refused = check_under(self.root, folder)
            if refused is not None and refused.rule is Rule.OUTSIDE_ROOT:
                return None
        listing: list[tuple[str, bool]] = []
        try:
            with os.scandir(self.root / folder) as entries:
                for entry in entries:
                    try:
                        is_folder = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        continue  # gone since it was listed
                    listing.append((entry.name, is_folder))
                    if is_folder:
                        self._inside.add(_join(folder, entry.name))
        except OSError:
            return []
        return listing


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


__all__ = ["FolderTargets", "Followed"]
