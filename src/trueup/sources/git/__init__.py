"""The ``git`` source (SPEC 4.1): descriptor files from a git repository branch.

:class:`GitSource` is the source; :class:`GitRepository` the clone it reads
through the real ``git`` CLI (the ``github`` source reuses it to fetch
contents), and :mod:`~trueup.sources.git.catalog` the per-commit catalog read
both share.
"""

from trueup.errors import RepositoryError
from trueup.sources.git.repository import GitRepository
from trueup.sources.git.source import GitSource

__all__ = ["GitRepository", "GitSource", "RepositoryError"]
