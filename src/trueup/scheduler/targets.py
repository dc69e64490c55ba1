"""What an event names, in trueup's terms: the (source, scope) a webhook should refresh.

Called by the webhook receiver. A push names a repository and a branch: the git
and github sources that read that repository at that branch are asked which of
their scopes it is (the same question ``sources/refresh.py`` asks). An Argo CD
notification names an Application: the scopes whose stored snapshot holds it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from trueup.config import Config, GithubSourceConfig, GitSourceConfig, KubernetesSourceConfig
from trueup.store import Store

_OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def repository_targets(
    config: Config, names: Iterable[str], branch: str | None, default_branch: str | None
) -> list[tuple[str, str]]:
    """The (source, scope) pairs that read one of ``names`` (``owner/name`` or URLs) at ``branch``.

    ``branch`` None (a tag push, a branch deletion) matches nothing;
    ``default_branch`` is the repository's, for sources that follow it.
    """
    from trueup.sources.git import GitSource
    from trueup.sources.github import GithubSource

    if branch is None:
        return []
    found: list[tuple[str, str]] = []
    names = [n for n in names if n]
    for source in config.sources:
        if isinstance(source, GitSourceConfig):
            if source.branch != branch:
                continue
            git = GitSource(source)
            if any(git.serves(name) for name in names):
                found.append((source.id, git.scope))
        elif isinstance(source, GithubSourceConfig):
            if branch != (source.branch or default_branch):
                continue
            root = Path(config.data_dir) / "sources" / source.id
            for name in names:
                scope = GithubSource(source).scope_for(name, root)
                if scope is not None:
                    found.append((source.id, scope))
                    break
    return found


def application_targets(config: Config, store: Store, application: str) -> list[tuple[str, str]]:
    """The (source, scope) pairs of kubernetes sources whose snapshot holds this Application."""
    if not _OBJECT_NAME.match(application):
        return []
    kubernetes = {s.id for s in config.sources if isinstance(s, KubernetesSourceConfig)}
    return [
        (source, scope)
        for source, scope in store.pages().scopes_observing("Application", application)
        if source in kubernetes
    ]


def is_watched(config: Config, source_id: str) -> bool:
    """A live Kubernetes source: the server keeps it current by watching, not by polling."""
    source = config.source(source_id)
    return isinstance(source, KubernetesSourceConfig) and not source.snapshot
