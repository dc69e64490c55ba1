"""The ``git`` source (SPEC 4.1): descriptor files from a git repository branch.

:class:`GitSource` is the source; it reads through the shared git plumbing
(:mod:`trueup.git`) and the per-commit catalog read it shares with the
``github`` source (:mod:`trueup.sources.repository_catalog`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trueup.lazy import lazy_attributes

if TYPE_CHECKING:
    from trueup.sources.git.source import GitSource

__all__ = ["GitSource"]

# Imported on first use: loading the plugin entry point must not import the git source.
__getattr__ = lazy_attributes(
    __name__,
    {
        "GitSource": "trueup.sources.git.source",
    },
)
