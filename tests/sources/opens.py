"""Which files a piece of code opens, seen through ``sys.audit``'s "open" event.

Every open in the process raises it, ``os.open`` included, so a test sees what
trueup really opened without patching trueup. An audit hook cannot be removed:
it records only while :func:`opened_during` runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_opened: list[str] | None = None


def _record(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], str | Path):
        _opened.append(str(args[0]))


sys.addaudithook(_record)


def opened_during(action: Callable[[], T], *, suffix: str) -> tuple[T, list[str]]:
    """What ``action`` returned, and the names of the files ending in ``suffix`` it opened."""
    global _opened  # noqa: PLW0603 - the audit hook's switch
    _opened = []
    try:
        result = action()
        return result, [Path(p).name for p in _opened if p.endswith(suffix)]
    finally:
        _opened = None
