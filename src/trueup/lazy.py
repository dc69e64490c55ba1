"""Package attributes imported on first use.

A plugin package's ``__init__`` is imported whenever its entry point is
loaded, which happens on every command; the source or sink itself (and the
libraries it needs: an HTTP client, git plumbing, a state parser) is imported
only when a configuration uses it. :func:`lazy_attributes` gives such a
package a module ``__getattr__`` that imports the named attribute's home
module on first access.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``homes`` maps an attribute to its module."""

    def attribute(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(home), name)

    return attribute


__all__ = ["lazy_attributes"]
