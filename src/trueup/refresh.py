"""Targeted refresh: re-read one repository now, for the webhook receiver.

Called by the server's webhook job runner after a push event was durably
recorded (SPEC 6.4). A webhook is a hint, never state: the payload's
``before``/``after`` commits are not read as content. The source fetches the
branch, reads its real head and diffs it against the commit of *its own* last
complete read, so only the files changed since then are parsed, and a missed or
out-of-order event cannot leave anything behind; the periodic sync catches
whatever a lost event would have told.

It sits above the pipeline (it orchestrates a sync), and asks a source which
scope reads a repository through the optional
:class:`~trueup.sources.base.ReadsRepositories` protocol: any source type that
reads git repositories can take part, with no test of its class here.
"""

from __future__ import annotations

from pathlib import Path

from trueup.config import Config
from trueup.pipeline import Clock, SyncOutcome, sync, utc_now
from trueup.plugins import registry
from trueup.sources.base import ReadsRepositories
from trueup.store import Store


def repository_scope(
    config: Config, source_id: str, repository: str, *, data_dir: Path | None = None
) -> str | None:
    """The scope of ``source_id`` that reads ``repository`` (``owner/name`` or a URL), if any."""
    source = registry().create_source(config.source(source_id), config.sources)
    if not isinstance(source, ReadsRepositories):
        return None
    return source.scope_for(repository, (data_dir or Path(config.data_dir)) / "sources" / source_id)


def refresh_repository(
    config: Config,
    store: Store,
    source_id: str,
    repository: str,
    *,
    before: str | None = None,
    after: str | None = None,
    now: Clock = utc_now,
    data_dir: Path | None = None,
) -> SyncOutcome | None:
    """Sync the one scope that reads ``repository``; None when this source does not read it.

    ``before``/``after`` only label the run (they are the webhook's claims);
    what is read is the branch head the source fetches itself.
    """
    scope = repository_scope(config, source_id, repository, data_dir=data_dir)
    if scope is None:
        return None
    span = f" {(before or '?')[:12]}..{(after or '?')[:12]}" if before or after else ""
    return sync(
        config,
        store,
        only=[source_id],
        scopes=[scope],
        now=now,
        trigger=f"webhook {repository}{span}",
        data_dir=data_dir,
    )
