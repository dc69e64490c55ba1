"""The files a file source's placeholders read (``$text``/``$json``/``$yaml``): inside its folder.

A :class:`~trueup.sources.placeholders.ReferenceReader` for
:mod:`trueup.sources.file.source`: a target is resolved relative to the file
that names it and must stay inside the folder (never a URL); it is read through
:mod:`trueup.path_policy` (a regular file under the folder, capped), once per
read of the scope. Its version is its content hash, or says why it was not read,
so that a change, an appearance or a refusal parses the descriptor again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from trueup.path_policy import Refusal as PathRefusal
from trueup.path_policy import Rule, read_under
from trueup.sources.containment import resolve_inside
from trueup.sources.placeholders import ReadOnce, Referenced, Refusal


class FolderReferences(ReadOnce):
    """Placeholder targets inside the folder, read once per read of the scope."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def resolve(self, base_file: str, target: str) -> str | Refusal:
        if "://" in target:
            return Refusal("is a URL; a file source reads placeholders from its own folder only")
        path = resolve_inside(base_file, target, root=self.root)
        return path if path is not None else Refusal(f"leads out of the folder {self.root}")

    def _load(self, path: str, max_bytes: int) -> Referenced:
        """Through :mod:`trueup.path_policy`: a regular file under the folder, capped."""
        data = read_under(self.root, path, max_bytes=max_bytes)
        if isinstance(data, PathRefusal):
            if data.rule in (Rule.MISSING, Rule.NOT_A_FILE):
                return Referenced(None, None, "does not exist")
            if data.rule is Rule.TOO_LARGE:  # its size is its version: a change is noticed
                version = f"too-large:{data.reason}"
                return Referenced(None, version, f"is over the {max_bytes}-byte placeholder cap")
            return Referenced(None, f"refused:{data.rule}", data.reason)
        return Referenced(data, hashlib.sha256(data).hexdigest())


__all__ = ["FolderReferences"]
