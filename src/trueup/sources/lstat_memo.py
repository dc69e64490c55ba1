"""Trusting a file's ``lstat`` instead of its bytes, as git trusts its index.

A file found with exactly the ``lstat`` remembered with its digest (device,
inode, size, modification and change times in nanoseconds, mode) holds the
bytes that were hashed: the change time cannot be set by a user, and any write
moves it. Only a file whose times lie well before the read that hashed it is
remembered this way: one written within the same clock tick as that read could
change again unnoticed (git's "racily clean" entries; coarse file systems count
in seconds).

Used by the ``file`` source (``files.json``) and the Kubernetes snapshot source
(its export files), so that an unchanged file costs one ``lstat``.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

RACY_NS = 2_000_000_000


def stat_key(status: os.stat_result) -> list[int]:
    """What must be the same for a file's bytes to be taken as unchanged."""
    return [
        status.st_dev,
        status.st_ino,
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
        status.st_mode,
    ]


def trusted_stat(status: os.stat_result | None, started_ns: int) -> list[int] | None:
    """The key to remember for a regular file hashed by a read that began at
    ``started_ns`` (``time.time_ns()``), or None when it may not stand for the bytes."""
    if status is None or not stat.S_ISREG(status.st_mode):
        return None
    if max(status.st_mtime_ns, status.st_ctime_ns) >= started_ns - RACY_NS:
        return None
    return stat_key(status)


def load_memo(path: Path | None) -> dict[str, Any]:
    """A JSON object remembered in a data folder; empty when absent or unreadable."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_memo(path: Path | None, data: dict[str, Any], loaded: dict[str, Any]) -> None:
    """Write it atomically, unless it is what was ``loaded`` (an unchanged folder
    writes nothing); a failure only costs hashing again next time."""
    if path is None or data == loaded:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        temporary.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        return


__all__ = ["RACY_NS", "load_memo", "save_memo", "stat_key", "trusted_stat"]
