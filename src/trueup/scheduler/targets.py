"""What an event names, in trueup's terms: the (source, scope) a webhook should refresh.

Called by the webhook receiver. A push names a repository and a branch: the
sources that read that repository at that branch are asked which of their scopes
it is (:func:`trueup.refresh.repository_scope`). An Argo CD
notification names an Application: the scopes whose stored snapshot holds it.
Both block (a source reads its data folder; the store is queried): the receiver
calls them on a worker thread, never on the event loop.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from trueup.config import Config
from trueup.refresh import repository_scope
from trueup.store import Store

_OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def repository_targets(
    config: Config, names: Iterable[str], branch: str | None, default_branch: str | None
) -> list[tuple[str, str]]:
    """The (source, scope) pairs that read one of ``names`` (``owner/name`` or URLs) at ``branch``.

    Each source that reads git repositories is asked which scope reads the
    repository (:func:`trueup.refresh.repository_scope`); a source that follows
    a branch (``branch:``) matches only pushes to it, one without follows the
    repository's default branch. ``branch`` None (a tag push) matches nothing.
    """
    if branch is None:
        return []
    found: list[tuple[str, str]] = []
    names = [n for n in names if n]
    for source in config.sources:
        followed = getattr(source, "branch", None) or default_branch
        if followed != branch:
            continue
        for name in names:
            scope = repository_scope(config, source.id, name)
            if scope is not None:
                found.append((source.id, scope))
                break
    return found


def application_targets(config: Config, store: Store, application: str) -> list[tuple[str, str]]:
    """The (source, scope) pairs whose snapshot holds this Application, of the sources that
    read Applications (:meth:`~trueup.config_model.SourceConfig.announces`)."""
    if not _OBJECT_NAME.match(application):
        return []
    reading = {s.id for s in config.sources if s.announces("Application")}
    return [
        (source, scope)
        for source, scope in store.pages().scopes_observing("Application", application)
        if source in reading
    ]


def is_watched(config: Config, source_id: str) -> bool:
    """A source the server keeps current by watching (a live cluster), not by polling."""
    return config.source(source_id).watched()
