"""Containment: a path a descriptor names, kept inside the root it was read from.

Used by the placeholder resolution of every descriptor source (file, git,
github). One function, so that the rule lives in one place and can be replaced
by a general path policy without touching its callers.
"""

from __future__ import annotations

import posixpath
from pathlib import Path


def resolve_inside(base_file: str, target: str, *, root: Path | None = None) -> str | None:
    """``target`` as a POSIX path relative to the root, or None when it leads out of it.

    ``target`` is relative to the folder of ``base_file`` (itself relative to
    the root), or to the root itself when it starts with ``/`` (as Backstage
    resolves a path that starts with ``/`` against the repository root). ``..``
    may not climb above the root. With ``root`` (a real folder), symlinks are
    followed and the real path must stay inside the real root too.
    """
    if not target or "\0" in target:
        return None
    if target.startswith("/"):
        joined = posixpath.normpath(target.lstrip("/"))
    else:
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(base_file), target))
    if joined in (".", "..") or joined.startswith("../") or posixpath.isabs(joined):
        return None
    if root is not None:
        real_root = root.resolve()
        try:
            if not (root / joined).resolve().is_relative_to(real_root):
                return None
        except (OSError, RuntimeError):  # a symlink loop
            return None
    return joined
