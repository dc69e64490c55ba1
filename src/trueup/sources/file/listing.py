"""Listing the files of a file source's folder that its include globs match."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from trueup.model.observation import FailureKind, unstorable_rule
from trueup.sources.descriptors import IncludeGlobs


@dataclass(frozen=True, slots=True)
class Unlisted:
    """Why the folder could not be listed completely."""

    kind: FailureKind
    message: str


def list_files(
    root: Path, globs: IncludeGlobs, folder_links: list[str], misnamed: list[str]
) -> dict[str, os.stat_result] | Unlisted:
    """Every file under root that the globs match (relative POSIX paths, sorted), with
    its ``lstat``. Folders are walked as ``os.walk`` does: links to folders are not
    entered (each is added to ``folder_links``); links, FIFOs and sockets are listed
    like files (read_under refuses what is not a regular file). One whose path is not
    UTF-8 (its other bytes as surrogates), which no store takes, goes to ``misnamed``."""
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a folder"
        return Unlisted(FailureKind.UNREACHABLE, f"the folder {root} {what}")
    errors: list[OSError] = []
    matched: dict[str, os.stat_result] = {}
    folders = [(str(root), "")]
    while folders:
        folder, base = folders.pop()
        try:
            with os.scandir(folder) as entries:
                listing = list(entries)
        except OSError as failure:
            errors.append(failure)
            continue
        below: list[tuple[str, str]] = []
        for entry in listing:
            relative = f"{base}{entry.name}"
            try:
                is_dir = entry.is_dir()
                status = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # gone since it was listed
            if is_dir:
                if not entry.is_symlink():
                    below.append((entry.path, f"{relative}/"))
                else:
                    folder_links.append(relative)
            elif unstorable_rule(relative) is not None and globs.matches(relative):
                misnamed.append(relative)
            elif globs.matches(relative):
                matched[relative] = status
        folders.extend(sorted(below, reverse=True))
    if errors:
        error = errors[0]
        if Path(str(error.filename)) == root:
            return Unlisted(
                FailureKind.UNREACHABLE, f"the folder {root} cannot be read: {error.strerror}"
            )
        kind = FailureKind.FORBIDDEN if isinstance(error, PermissionError) else FailureKind.ERROR
        return Unlisted(kind, f"the folder {error.filename} cannot be listed: {error.strerror}")
    return dict(sorted(matched.items()))
