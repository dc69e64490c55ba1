"""What trueup may read from disk: regular files, under the root they were configured in.

Every source that reads local files asks here (the ``file`` source, Terraform's
local states, Kubernetes exports, ``$text`` placeholders), and so do the
configuration loader and the kubeconfig reader for the files they are named.
The rules are git's for a work tree: a path that resolves — through any
symbolic link — outside its root is not read ("beyond a symbolic link"), and
only regular files are read. A FIFO, socket or device that a pattern matches is
refused, never opened for reading (a FIFO would block, a device could have side
effects), and never skipped silently: the caller turns the refusal into a
finding that names the file. Nothing of a refused file is read or shown, not
even where a link points.

API, for every caller::

    read_under(root, "teams/a.yaml", max_bytes=1 << 20)  # -> bytes | Refusal
    check_under(root, "teams/a.yaml")                    # -> Refusal | None (listings)
    read_file(path, max_bytes=1 << 16)                   # -> bytes | Refusal (a named file)
    Folder(root).read("teams/a.yaml", max_bytes=...)     # many files: the root resolved once

How, and against whom: the path is resolved (``realpath``), checked to lie
under the resolved root, ``stat``-ed (a regular file, not over the cap), then
opened with ``O_NOFOLLOW | O_NONBLOCK`` and ``fstat``-ed again: the open file
must be the very file that was checked. A repository or folder that holds
hostile links is refused; a local user racing trueup to swap a checked path is
caught by the second check.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Rule(StrEnum):
    """Why a path was refused; stable, shown in findings as the rule."""

    OUTSIDE_ROOT = "outside-root"
    SPECIAL_FILE = "special-file"
    NOT_A_FILE = "not-a-file"
    MISSING = "missing"
    FORBIDDEN = "permission-denied"
    UNREADABLE = "unreadable"
    TOO_LARGE = "file-too-large"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A path trueup will not read, and why, in words that never quote its content."""

    path: str  # as the caller named it (relative to its root, or as configured)
    rule: Rule
    reason: str  # e.g. "is a symbolic link that leads outside the folder /srv/catalog"

    @property
    def message(self) -> str:
        return f"{self.path} {self.reason}"


_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def check_under(root: Path, relative: str) -> Refusal | None:
    """Why ``relative`` under ``root`` would be refused, or None if it may be read."""
    return Folder(root).check(relative)


def read_under(root: Path, relative: str, *, max_bytes: int) -> bytes | Refusal:
    """The bytes of ``root/relative``, or a refusal: outside the root, not a regular
    file, missing, unreadable, or larger than ``max_bytes``."""
    return Folder(root).read(relative, max_bytes=max_bytes)


def read_file(path: Path, *, max_bytes: int) -> bytes | Refusal:
    """The bytes of a file named in configuration (no root): a regular file, at most
    ``max_bytes``. A link to a regular file is followed, as ``cat`` would."""
    shown = str(path)
    try:
        real = os.path.realpath(path)
        checked = os.stat(real)
    except OSError as exc:
        return _os_refusal(shown, exc)
    refused = _kind_refusal(shown, checked, max_bytes)
    return refused if refused is not None else _read(real, checked, shown, max_bytes)


class Folder:
    """A root resolved once, for the many files one read takes from under it.

    :func:`read_under` and :func:`check_under` resolve their root on each call;
    the ``file`` source, which reads thousands of files under one root, holds one
    of these for its read. The rules are the same; where the root itself leads
    (through its links) is taken once, when the read begins.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._real_root = os.path.realpath(root)
        self._lexical_root = os.path.normpath(os.path.abspath(root))

    def read(self, relative: str, *, max_bytes: int) -> bytes | Refusal:
        """:func:`read_under` in this folder."""
        found = self._checked(relative)
        if isinstance(found, Refusal):
            return found
        real, checked = found
        return _read(real, checked, relative, max_bytes)

    def check(self, relative: str) -> Refusal | None:
        """:func:`check_under` in this folder."""
        found = self._checked(relative)
        return found if isinstance(found, Refusal) else None

    def _checked(self, relative: str) -> tuple[str, os.stat_result] | Refusal:
        root = self.root
        lexical = os.path.normpath(os.path.join(root, relative))
        if os.path.isabs(relative) or not _inside(lexical, self._lexical_root):
            return Refusal(relative, Rule.OUTSIDE_ROOT, f"is outside the folder {root}")
        try:
            is_link = os.path.islink(lexical)
            real = os.path.realpath(lexical)
        except (OSError, ValueError) as exc:
            return _os_refusal(relative, exc)
        if not _inside(real, self._real_root):
            what = "is a symbolic link that leads" if is_link else "leads, through a symbolic link,"
            return Refusal(
                relative, Rule.OUTSIDE_ROOT, f"{what} outside the folder {root}; not read"
            )
        try:
            checked = os.stat(real)
        except OSError as exc:
            if is_link and exc.errno == errno.ENOENT:
                return Refusal(relative, Rule.MISSING, "is a symbolic link to nothing")
            return _os_refusal(relative, exc)
        refused = _kind_refusal(relative, checked, None)
        return refused if refused is not None else (real, checked)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _kind_refusal(shown: str, checked: os.stat_result, max_bytes: int | None) -> Refusal | None:
    mode = checked.st_mode
    if stat.S_ISDIR(mode):
        return Refusal(shown, Rule.NOT_A_FILE, "is a folder, not a file")
    if not stat.S_ISREG(mode):
        return Refusal(shown, Rule.SPECIAL_FILE, f"is a {_special(mode)}, not a file; not read")
    if max_bytes is not None and checked.st_size > max_bytes:
        return _too_large(shown, checked.st_size, max_bytes)
    return None


def _special(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    return "special file"


def _too_large(shown: str, size: int, max_bytes: int) -> Refusal:
    return Refusal(shown, Rule.TOO_LARGE, f"is {size} bytes, over the {max_bytes} cap")


def _read(real: str, checked: os.stat_result, shown: str, max_bytes: int) -> bytes | Refusal:
    if checked.st_size > max_bytes:
        return _too_large(shown, checked.st_size, max_bytes)
    try:
        fd = os.open(real, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # the checked file was swapped for a link meanwhile
            return Refusal(shown, Rule.OUTSIDE_ROOT, "changed into a symbolic link; not read")
        return _os_refusal(shown, exc)
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (checked.st_dev, checked.st_ino):
            return Refusal(shown, Rule.OUTSIDE_ROOT, "changed while it was checked; not read")
        if not stat.S_ISREG(opened.st_mode):
            return Refusal(shown, Rule.SPECIAL_FILE, "is not a regular file; not read")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            # Sized by the file, not by the cap: a read of ``max_bytes`` allocates that
            # much for every small file. What the file gained since is read on, up to
            # one byte past the cap.
            expected = min(opened.st_size, max_bytes)
            data = handle.read(expected + 1)
            if expected < len(data) <= max_bytes:
                data += handle.read(max_bytes + 1 - len(data))
    except OSError as exc:
        return _os_refusal(shown, exc)
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # it grew after it was checked
        return _too_large(shown, len(data), max_bytes)
    return data


def _os_refusal(shown: str, exc: OSError | ValueError) -> Refusal:
    if isinstance(exc, ValueError):  # e.g. a NUL byte in the path
        return Refusal(shown, Rule.UNREADABLE, f"cannot be read: {exc}")
    if exc.errno == errno.ENOENT:
        return Refusal(shown, Rule.MISSING, "does not exist")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return Refusal(shown, Rule.FORBIDDEN, "cannot be read: permission denied")
    if exc.errno == errno.EISDIR:
        return Refusal(shown, Rule.NOT_A_FILE, "is a folder, not a file")
    return Refusal(shown, Rule.UNREADABLE, f"cannot be read: {exc.strerror or exc}")
