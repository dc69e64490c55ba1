"""The ``git`` source: Backstage descriptor files in one repository branch (intent).

Built from a :class:`~trueup.sources.git.config.GitSourceConfig` (by its plugin)
and driven by the pipeline through ``observe``. One scope per source, named
``<repository name>@<branch>`` (``catalog@main``).

A read fetches the branch into a bare clone under the source's data folder
(:mod:`~trueup.git.repository`) and then costs what changed:

- head unchanged since the last complete read: the snapshot is rebuilt from the
  remembered parse results (:mod:`~trueup.sources.repository_catalog.cache`), nothing parsed;
- new head: ``git diff-tree`` against the last read commit says which files were
  added, modified, renamed or deleted; only changed blobs are read and parsed.
  When the old head is not an ancestor of the new one (a force-push) this is
  recorded in :attr:`GitSource.last_events` and the diff still applies (it is a
  diff of two trees);
- no usable previous state: every file of the commit is listed.

A Location target with glob characters is matched against the commit's files,
listed at most once per read (the listing above when there was one).

A fetch or read that fails yields a :class:`ScopeFailure` (unreachable,
forbidden…) and moves nothing: the previous clone state, cache and snapshot stay.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from trueup.config_model import SourceConfig, VersionOrder
from trueup.errors import RepositoryError, SourceError
from trueup.git.remote import identity, repository_name
from trueup.git.repository import GitRepository
from trueup.model.finding import JSONValue
from trueup.model.observation import (
    FailureKind,
    Nature,
    ScopeFailure,
    ScopeRead,
    Snapshot,
    kept_when_unchanged,
)
from trueup.sources.base import ReadContext
from trueup.sources.descriptors import IncludeGlobs
from trueup.sources.git.config import GitSourceConfig
from trueup.sources.repository_catalog.cache import ScopeState, load_state, save_state
from trueup.sources.repository_catalog.catalog import (
    CatalogRead,
    CatalogRequest,
    UrlTargets,
    path_in_repository,
    read_catalog,
    reader_of,
    unversioned,
)
from trueup.sources.repository_catalog.tree_glob import TreeGlobs
from trueup.sources.repository_catalog.weblinks import web_base, web_links


class GitSource:
    """Reads one branch of one git repository; see the module docstring."""

    nature = Nature.INTENT

    def __init__(
        self,
        config: GitSourceConfig,
        *,
        data_dir: Path | None = None,
        others: Sequence[SourceConfig] = (),
    ) -> None:
        self.config = config
        self._globs = IncludeGlobs(config.include)
        self._data_dir = data_dir
        # The other configured sources: a Location ``url`` target into a repository
        # one of them reads is theirs to read (an info finding, not a warning).
        self._others = [o for o in others if o.id != config.id]
        self.last_events: list[str] = []  # e.g. force-pushes seen by the last read
        self.files_parsed = 0  # by the last read: what incremental reads save

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def scope(self) -> str:
        return scope_of(self.config)

    def serves(self, repository: str) -> bool:
        """Whether ``repository`` (a URL, ``owner/name`` or the scope) is the one read here."""
        if repository in (self.scope, self.config.url):
            return True
        mine, theirs = identity(self.config.url), identity(repository)
        return mine == theirs or (theirs.count("/") == 1 and mine.endswith("/" + theirs))

    def scope_for(self, repository: str, data_dir: Path | None = None) -> str | None:
        """This source's scope when ``repository`` is the one it reads (webhook refreshes)."""
        return self.scope if self.serves(repository) else None

    def observe(self, context: ReadContext) -> Iterator[ScopeRead]:
        if context.scopes is not None and self.scope not in context.scopes:
            return
        yield self.read(context)

    def read(self, context: ReadContext) -> ScopeRead:
        self.last_events = []
        self.files_parsed = 0
        now = context.now()
        root = self._data_dir or context.data_dir
        if root is None:
            raise SourceError(f"source {self.id!r}: no data folder to keep its clone in")
        repo = clone_of(self.config, root)
        try:
            with repo.locked():
                state = root / "state" / f"{_slug(self.scope)}.json"
                return self._read_locked(repo, state, context, now)
        except RepositoryError as exc:
            return ScopeFailure(self.id, self.scope, exc.kind, str(exc), now)
        except SourceError as exc:
            return ScopeFailure(self.id, self.scope, FailureKind.ERROR, str(exc), now)

    def _read_locked(
        self, repo: GitRepository, state_path: Path, context: ReadContext, now: datetime
    ) -> Snapshot:
        branch = self.config.branch
        head = repo.fetch(branch)
        announced = context.hint.get("after")
        if announced and announced != head:
            self.last_events.append(
                f"a push announced {announced[:12]} on {branch}; the branch head is {head[:12]}"
            )
        state = load_state(state_path, source=self.id, scope=self.scope)
        current = repo.current(branch)
        patterns: list[JSONValue] = list(self._globs.patterns)
        policy = context.emission
        if state.extra.get("policy") != policy.fingerprint:
            state = ScopeState()  # another emission policy parses differently: parse again
        elif state.extra.get("include") != patterns:
            state = ScopeState(parsed=state.parsed)  # other globs: list the commit again
        elif state.commit is not None and current != state.commit:
            # cache and clone disagree (killed between the two writes, a restored
            # backup): list the commit again; parse results stay valid (keyed by blob)
            state = ScopeState(parsed=state.parsed)
        included, listing = self._included(repo, state, head)
        configured = self.config.web.base if self.config.web is not None else None
        web = configured.rstrip("/") if configured else web_base(self.config.url)
        request = CatalogRequest(
            source=self.id,
            scope=self.scope,
            repo=repository_name(self.config.url),
            commit=head,
            included=included,
            observed_at=now,
            previous=context.previous.get(self.scope),
            links=web_links(self.config.url, branch, self.config.web),
            urls=UrlTargets(
                local=lambda url: path_in_repository(web, branch, url),
                elsewhere=lambda url: reader_of(url, self._others),
            ),
            policy=policy,
        )
        blobs = _GitBlobs(repo, policy.max_file_bytes)
        tree = _GitTree(repo, head, listing)
        result = read_catalog(request, tree, blobs, state.parsed)
        self.files_parsed = result.parsed_now
        if state.commit != head or result.parsed_now or result.files != state.files:
            remembered = ScopeState(head, dict(included), result.files, result.parsed)
            remembered.extra["include"] = patterns
            remembered.extra["policy"] = policy.fingerprint
            save_state(state_path, remembered)
        if current != head:
            repo.switch(branch, head)
        return kept_when_unchanged(
            self._snapshot(result, head, now),
            context.previous.get(self.scope),
            unversioned=unversioned(request.repo),
        )

    def _included(
        self, repo: GitRepository, state: ScopeState, head: str
    ) -> tuple[dict[str, str], dict[str, str] | None]:
        """The files the globs match at ``head``, from the last read plus a diff when possible,
        and every file of ``head`` when they had to be listed (else None)."""
        old = state.commit
        if old == head:
            return dict(state.included), None
        if old is None or repo.resolve(old) is None:
            listing = repo.list_files(head)
            return {p: b for p, b in listing.items() if self._globs.matches(p)}, listing
        if not repo.is_ancestor(old, head):
            self.last_events.append(
                f"force-push on {self.config.branch}: {old[:12]} -> {head[:12]} "
                "(the previous head is not an ancestor of the new one)"
            )
        included = dict(state.included)
        for change in repo.diff(old, head):
            if change.old_path is not None and change.status == "R":
                included.pop(change.old_path, None)
            if change.blob is None or not self._globs.matches(change.path):
                included.pop(change.path, None)
            else:
                included[change.path] = change.blob
        return included, None

    def _snapshot(self, result: CatalogRead, head: str, now: datetime) -> Snapshot:
        return Snapshot(
            source=self.id,
            scope=self.scope,
            nature=Nature.INTENT,
            read_at=now,
            observations=tuple(result.observations),
            findings=tuple(result.findings),
            version=head,
            cause="; ".join(self.last_events),
            ignored=result.ignored,
        )


class _GitTree:
    """One commit's tree: paths looked up as asked; listed whole once, when a glob asks."""

    def __init__(
        self, repo: GitRepository, commit: str, listing: Mapping[str, str] | None = None
    ) -> None:
        self.repo = repo
        self.commit = commit
        self._globs = TreeGlobs(listing) if listing is not None else None

    def lookup(self, paths: Collection[str]) -> Mapping[str, str]:
        if self._globs is not None:  # listed already: no git process
            files = self._globs.files
            return {p: files[p] for p in paths if p in files}
        return self.repo.lookup(self.commit, paths)

    def glob(self, patterns: Collection[str]) -> Mapping[str, Mapping[str, str]]:
        if self._globs is None:
            self._globs = TreeGlobs(self.repo.list_files(self.commit))
        return self._globs.match(patterns)


class _GitBlobs:
    def __init__(self, repo: GitRepository, max_bytes: int) -> None:
        self.repo = repo
        self.max_bytes = max_bytes

    def read(self, blobs: Collection[str]) -> Iterator[tuple[str, bytes | int]]:
        return self.repo.iter_blobs(blobs, max_bytes=self.max_bytes)


def scope_of(config: GitSourceConfig) -> str:
    """The one scope of a git source: ``<repository name>@<branch>``."""
    return f"{repository_name(config.url)}@{config.branch}"


def clone_of(config: GitSourceConfig, root: Path) -> GitRepository:
    """The source's bare clone in its data folder ``root``."""
    return GitRepository(
        config.url,
        root / "clones" / f"{_slug(scope_of(config))}.git",
        timeout=config.timeout.total_seconds(),
    )


def order_commits(
    config: GitSourceConfig, root: Path, version: str, other: str
) -> VersionOrder | None:
    """Where commit ``version`` stands against ``other`` in the history of the clone.

    ``other`` not in the clone (a commit pushed after this read) is fetched by
    its id from the source's URL; None when it cannot be had there either, or
    the clone is gone.
    """
    repo = clone_of(config, root)
    if not (repo.path / "HEAD").is_file():
        return None
    try:
        with repo.locked():
            if repo.resolve(version) is None:
                return None
            if repo.resolve(other) is None and not repo.fetch_commit(other):
                return None
            if repo.is_ancestor(version, other):
                return VersionOrder.BEFORE
            return VersionOrder.AFTER if repo.is_ancestor(other, version) else VersionOrder.APART
    except RepositoryError:
        return None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]", "_", text)
