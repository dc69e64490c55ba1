"""The ``git`` source (SPEC 4.1): descriptor files from a git repository branch.

:class:`GitSource` is the source; it reads through the shared git plumbing
(:mod:`trueup.git`) and the per-commit catalog read it shares with the
``github`` source (:mod:`trueup.sources.repository_catalog`).
"""

from trueup.sources.git.source import GitSource

__all__ = ["GitSource"]
