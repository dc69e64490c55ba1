"""Repository identity: one key for the many ways a git repository URL is written.

``https://github.com/Acme/shop.git``, ``git@github.com:acme/shop`` and
``ssh://git@github.com/acme/shop/`` are one repository. Called by the pipeline
(the heads the git sources read) and the drift check (the repository an Argo CD
Application deploys from), so that the two can be compared.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_SCP = re.compile(r"^(?:[^@/]+@)?([^:/]+):(?!//)(.+)$")  # git@host:org/repo


@dataclass(frozen=True, slots=True)
class Head:
    """The commit a branch of a repository pointed at when a git source last read it."""

    branch: str
    commit: str


def repository_key(url: str) -> str:
    """``host/path`` in lower case without ``.git``; a local path stays a normalised path."""
    text = url.strip()
    if not text:
        return ""
    if text.startswith("file://"):
        return _path_key(urlsplit(text).path)
    if "://" in text:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        return _trim(f"{host}{parts.path}").lower()
    scp = _SCP.match(text)
    if scp and not os.path.isabs(text):
        return _trim(f"{scp.group(1).lower()}/{scp.group(2)}").lower()
    return _path_key(text)


def _path_key(path: str) -> str:
    return _trim(os.path.normpath(os.path.abspath(path)))


def _trim(text: str) -> str:
    text = text.rstrip("/")
    return text.removesuffix(".git").rstrip("/")


@dataclass(frozen=True, slots=True)
class TrackedBranch:
    """A repository branch that a source reads as intent (``url`` as configured)."""

    url: str
    branch: str

    @property
    def key(self) -> str:
        """The repository's identity, as :func:`repository_key` gives it."""
        return repository_key(self.url)
