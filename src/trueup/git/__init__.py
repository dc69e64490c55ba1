"""Shared git plumbing: the ``git`` CLI driven for trueup, and remote addresses.

Used by the ``git`` and ``github`` sources (fetching and reading commits) and by
the git mirror sink (committing and pushing hydrated entities). Nothing here
knows about sources, sinks or entities: ``repository`` is a local bare clone of
one remote, ``mirror`` adds what a publisher needs (commits written without a
work tree, pushes that are never forced), ``remote`` names repositories and
keeps credentials out of command lines and messages.
"""

from trueup.git.remote import RemoteAccess, identity, redact_url, remote_access, repository_name
from trueup.git.repository import Change, GitRepository

__all__ = [
    "Change",
    "GitRepository",
    "RemoteAccess",
    "identity",
    "redact_url",
    "remote_access",
    "repository_name",
]
