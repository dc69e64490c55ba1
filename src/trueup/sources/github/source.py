"""The ``github`` source: catalog files across an organisation's repositories (intent).

Built from a :class:`~trueup.sources.github.config.GithubSourceConfig` (by its plugin)
and driven by the pipeline through ``observe``. One scope per repository, so
that one failing repository never drops the others. A scope is named after the
repository when it is first seen (``acme/payments``; for a repository listed in
``repositories:``, the name as configured) and keeps that name when the
repository is renamed: the mapping from GitHub's repository id to scope lives
in ``repositories.json`` in the source's data folder.

Which repository scopes exist is decided by the listing (the organisation's
repositories, the owners of ``repositories:`` globs, and each plainly named
repository):

- a listing that fails on any page (or is rate-limited) is discarded whole:
  every known repository scope yields a :class:`ScopeFailure`, nothing replaced;
- a repository missing from a *complete* listing (deleted, transferred, no
  longer matching) or archived while ``include_archived`` is off yields an
  **empty snapshot** of its scope. The pipeline's removal guard then holds
  "empty after non-empty" until the removal is accepted
  (``--accept-removals github-acme/acme/payments``): SPEC truth rule 4. An
  organisation that suddenly lists no repository is therefore held everywhere.

Each repository is read by :mod:`~trueup.sources.github.reader`. The last
read's rate-limit state and request counts are in :attr:`GithubSource.rate_limit`
and :attr:`GithubSource.requests` (for the sync summary, health and metrics).
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import httpx

from trueup.errors import GithubError, RepositoryError, SourceError
from trueup.model.observation import (
    FailureKind,
    Nature,
    ScopeFailure,
    ScopeRead,
    Snapshot,
    show_unstorable,
    unstorable_rule,
)
from trueup.sources.base import ReadContext
from trueup.sources.descriptors import IncludeGlobs
from trueup.sources.github.client import GithubClient, RateLimit, RequestStats
from trueup.sources.github.config import GithubSourceConfig
from trueup.sources.github.reader import (
    RepoPayload,
    RepoReadSettings,
    RepoTarget,
    read_repository,
)
from trueup.sources.repository_catalog.catalog import repository_of

_GLOB = set("*?[")


@dataclass
class _Known:
    """A repository scope this source has read: its last known metadata."""

    id: int | None
    full_name: str
    default_branch: str
    html_url: str
    clone_url: str
    gone: bool = False


class GithubSource:
    """Reads catalog files of many GitHub repositories; see the module docstring."""

    nature = Nature.INTENT

    def __init__(
        self,
        config: GithubSourceConfig,
        *,
        data_dir: Path | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._data_dir = data_dir
        self._transport = transport
        self._sleep = sleep
        self._globs = IncludeGlobs(config.catalog_paths)
        self.rate_limit: RateLimit | None = None
        self.requests = RequestStats()
        self.last_events: list[str] = []
        self.files_parsed = 0

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def listing_scope(self) -> str:
        """The scope a failed listing is reported on when no repository is known yet."""
        return f"{self.config.org}/*" if self.config.org else "repositories"

    def scope_for(self, repository: str, data_dir: Path | None = None) -> str | None:
        """The scope reading ``repository`` (``owner/name`` or a URL), if this source reads it."""
        wanted = _full_name(repository)
        if wanted is None:
            return None
        host = _host(repository)  # a URL's host must be this source's (not another GitHub's)
        if host is not None and host != urlsplit(_web_origin(self.config.api_url)).hostname:
            return None
        for scope, known in self._load(self._root(data_dir)).items():
            if not known.gone and wanted in (scope.lower(), known.full_name.lower()):
                return scope
        return None

    def status_note(self) -> str | None:
        """The rate-limit budget and what the last read cost, for the sync summary."""
        if self.rate_limit is None:
            return None
        stats = self.requests
        return (
            f"GitHub API: {self.rate_limit.describe()}; last read sent {stats.requests} requests "
            f"({stats.counted} counted against the limit, {stats.not_modified} not modified)"
        )

    def observe(self, context: ReadContext) -> Iterator[ScopeRead]:
        self.last_events, self.files_parsed = [], 0
        root = self._root(context.data_dir)
        token = self.config.token.get_secret_value() if self.config.token else None
        client = GithubClient(
            self.config.api_url,
            token,
            cache_path=root / "http-cache.json",
            timeout=self.config.timeout.total_seconds(),
            max_retry_wait=self.config.max_retry_wait.total_seconds(),
            max_retries=self.config.max_retries,
            sleep=self._sleep,
            clock=lambda: context.now().timestamp(),
            transport=self._transport,
        )
        known = self._load(root)
        try:
            reads = self._read_all(client, known, context, root, token)
        finally:
            client.save()
            client.close()
            self._save(root, known)
            self.rate_limit, self.requests = client.rate_limit, client.stats
        yield from reads

    # --- one read --------------------------------------------------------------------

    def _read_all(
        self,
        client: GithubClient,
        known: dict[str, _Known],
        context: ReadContext,
        root: Path,
        token: str | None,
    ) -> list[ScopeRead]:
        now = context.now()
        if context.scopes is not None:
            targets, failures = self._refreshed(client, known, context.scopes, now)
        else:
            try:
                targets, failures = self._listed(client, known, now)
            except GithubError as exc:
                scopes = sorted({s for s, k in known.items() if not k.gone} | set(context.previous))
                return [
                    ScopeFailure(self.id, s, exc.kind, f"repository listing failed: {exc}", now)
                    for s in scopes or [self.listing_scope]
                ]
        settings = self._settings(root, known, token, context)
        reads: list[ScopeRead] = list(failures)
        for scope in sorted(targets):
            target = targets[scope]
            if target is None:
                reads.append(self._gone(scope, known, context, root, now))
                continue
            try:
                read = read_repository(
                    client, target, settings, previous=context.previous.get(scope), now=now
                )
            except (GithubError, RepositoryError) as exc:
                reads.append(ScopeFailure(self.id, scope, exc.kind, str(exc), now))
            except SourceError as exc:
                reads.append(ScopeFailure(self.id, scope, FailureKind.ERROR, str(exc), now))
            else:
                self.files_parsed += read.parsed_now
                reads.append(read.snapshot)
        return reads

    def _listed(
        self, client: GithubClient, known: dict[str, _Known], now: datetime
    ) -> tuple[dict[str, RepoTarget | None], list[ScopeFailure]]:
        """Every repository to read (None: gone), from complete listings only."""
        config = self.config
        listed: dict[int, RepoPayload] = {}
        owners = {r.split("/", 1)[0] for r in config.repositories if _GLOB & set(r)}
        if config.org:
            owners.add(config.org)
        for owner in sorted(owners):
            for repo in self._owner_repositories(client, owner):
                name = repo["full_name"]
                wanted = owner == config.org or any(
                    fnmatch.fnmatchcase(name.lower(), pattern.lower())
                    for pattern in config.repositories
                    if _GLOB & set(pattern)
                )
                if wanted:
                    listed[repo["id"]] = repo
        targets: dict[str, RepoTarget | None] = {}
        failures: list[ScopeFailure] = []
        for name in (r for r in config.repositories if not _GLOB & set(r)):
            try:
                repo = cast(RepoPayload, client.get_json(f"/repos/{name}"))
            except GithubError as exc:
                failures.append(ScopeFailure(self.id, name, exc.kind, str(exc), now))
                continue
            listed.pop(repo["id"], None)
            failures.extend(self._take(known, targets, name, repo, now))
        for repo in listed.values():
            failures.extend(self._take(known, targets, self._scope_of(known, repo), repo, now))
        failed = {f.scope for f in failures}
        for scope in known:
            if scope not in targets and scope not in failed:
                targets[scope] = None  # not in a complete listing: gone
        return targets, failures

    def _refreshed(
        self, client: GithubClient, known: dict[str, _Known], scopes: frozenset[str], now: datetime
    ) -> tuple[dict[str, RepoTarget | None], list[ScopeFailure]]:
        """A targeted refresh: the named scopes only; a 404 is a failure, never a removal."""
        targets: dict[str, RepoTarget | None] = {}
        failures: list[ScopeFailure] = []
        for scope in sorted(scopes):
            entry = known.get(scope)
            if entry is None or entry.gone:
                continue
            try:
                repo = cast(RepoPayload, client.get_json(f"/repos/{entry.full_name}"))
            except GithubError as exc:
                failures.append(ScopeFailure(self.id, scope, exc.kind, str(exc), now))
                continue
            failures.extend(self._take(known, targets, scope, repo, now))
        return targets, failures

    def _take(
        self,
        known: dict[str, _Known],
        targets: dict[str, RepoTarget | None],
        scope: str,
        repo: RepoPayload,
        now: datetime,
    ) -> list[ScopeFailure]:
        """Read ``repo`` as ``scope``; an excluded (archived) one is gone if it was known.

        A repository whose name, branch or URLs hold text no store takes (a lone
        surrogate: GitHub's JSON can say ``"\\ud800"``) is not read nor
        remembered: its scope (named storable) fails, keeping what was read of it.
        """
        target = self._target(scope, repo)
        if target is not None:
            texts = (target.full_name, target.branch, target.html_url, target.clone_url)
            if any(unstorable_rule(text) for text in texts):
                return [self._unstorable(scope, target, now)]
            self._remember(known, scope, repo)
            targets[scope] = target
        elif scope in known:
            targets[scope] = None
        return []

    def _unstorable(self, scope: str, target: RepoTarget, now: datetime) -> ScopeFailure:
        name = show_unstorable(target.full_name)
        message = (
            f"repository {name}: its name, branch ({show_unstorable(target.branch)}) or URL "
            "holds a NUL or a lone surrogate (a \\u escape of U+D800 to U+DFFF that is not half "
            "of a pair), which cannot be stored; it is not read"
        )
        return ScopeFailure(self.id, show_unstorable(scope), FailureKind.INVALID, message, now)

    def _owner_repositories(self, client: GithubClient, owner: str) -> list[RepoPayload]:
        params = {"per_page": str(self.config.per_page), "type": "all", "sort": "full_name"}
        try:
            return cast(list[RepoPayload], client.paginate(f"/orgs/{owner}/repos", params))
        except GithubError as exc:
            if exc.status != 404:
                raise
        params = {"per_page": str(self.config.per_page), "type": "owner", "sort": "full_name"}
        return cast(list[RepoPayload], client.paginate(f"/users/{owner}/repos", params))

    def _target(self, scope: str, repo: RepoPayload) -> RepoTarget | None:
        if repo.get("archived") and not self.config.include_archived:
            return None
        return RepoTarget(
            scope=scope,
            full_name=repo["full_name"],
            branch=self.config.branch or repo.get("default_branch") or "main",
            html_url=repo.get("html_url") or "",
            clone_url=repo.get("clone_url") or "",
        )

    def _scope_of(self, known: dict[str, _Known], repo: RepoPayload) -> str:
        for scope, entry in known.items():
            if entry.id == repo["id"]:
                if entry.full_name != repo["full_name"]:
                    self.last_events.append(
                        f"{entry.full_name} was renamed to {repo['full_name']} "
                        f"(still read as scope {scope})"
                    )
                return scope
        name = repo["full_name"]
        taken = known.get(name)
        return name if taken is None or taken.gone else f"{name}#{repo['id']}"

    def _remember(self, known: dict[str, _Known], scope: str, repo: RepoPayload) -> None:
        known[scope] = _Known(
            id=repo.get("id"),
            full_name=repo["full_name"],
            default_branch=repo.get("default_branch") or "main",
            html_url=repo.get("html_url") or "",
            clone_url=repo.get("clone_url") or "",
        )

    def _gone(
        self,
        scope: str,
        known: dict[str, _Known],
        context: ReadContext,
        root: Path,
        now: datetime,
    ) -> Snapshot:
        """An empty snapshot for a repository that left a complete listing (or was archived).

        It is repeated on every read until the stored snapshot is empty (the guard
        may hold the removal until it is accepted); then the scope is forgotten.
        """
        previous = context.previous.get(scope)
        entry = known.get(scope)
        if previous is None or not previous.observations:
            known.pop(scope, None)
            (root / "state" / f"{_slug(scope)}.json").unlink(missing_ok=True)
        elif entry is not None:
            entry.gone = True
        return Snapshot(self.id, scope, Nature.INTENT, now, observations=(), version="")

    def _settings(
        self, root: Path, known: dict[str, _Known], token: str | None, context: ReadContext
    ) -> RepoReadSettings:
        readers = {
            repository_of(k.html_url): f"{self.id}/{scope}"
            for scope, k in known.items()
            if not k.gone and k.html_url
        }

        def elsewhere(url: str) -> str | None:
            return readers.get(repository_of(url))

        env: dict[str, str] = {}
        redact: tuple[str, ...] = ()
        if token:
            basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
            env = {  # only for the web origin that belongs to the API (github.com, a GHES host)
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": f"http.{_web_origin(self.config.api_url)}/.extraHeader",
                "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
            }
            redact = (token, basic)
        return RepoReadSettings(
            source=self.id,
            globs=self._globs,
            state_dir=root / "state",
            clone_dir=root / "clones",
            use_git=self.config.use_git_for_content,
            git_timeout=max(self.config.timeout.total_seconds(), 300.0),
            git_env=env,
            redact=redact,
            elsewhere=elsewhere,
            policy=context.emission,
        )

    # --- the repository registry --------------------------------------------------------

    def _root(self, data_dir: Path | None) -> Path:
        root = self._data_dir or data_dir
        if root is None:
            raise SourceError(f"source {self.id!r}: no data folder for its caches")
        return root

    def _load(self, root: Path) -> dict[str, _Known]:
        try:
            data = json.loads((root / "repositories.json").read_bytes())
            return {scope: _Known(**entry) for scope, entry in data["repositories"].items()}
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def _save(self, root: Path, known: dict[str, _Known]) -> None:
        root.mkdir(parents=True, exist_ok=True)
        data: dict[str, Any] = {"repositories": {s: vars(k) for s, k in sorted(known.items())}}
        temporary = root / f"repositories.json.tmp-{os.getpid()}"
        temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(temporary, root / "repositories.json")


def _full_name(repository: str) -> str | None:
    """``owner/name`` (lowercase) of ``owner/name``, a web or clone URL, or ``git@host:o/n``."""
    text = repository.strip()
    if text.startswith("git@") and ":" in text:
        text = "https://" + text[4:].replace(":", "/", 1)
    if "://" in text:
        found = repository_of(text)
        return found.split("/", 1)[1] if found else None
    parts = text.strip("/").removesuffix(".git").split("/")
    return "/".join(parts).lower() if len(parts) == 2 else None


def _host(repository: str) -> str | None:
    """The host (lowercase) of a web or clone URL or ``git@host:o/n``; None for ``o/n``."""
    text = repository.strip()
    if text.startswith("git@") and ":" in text:
        return text[4:].partition(":")[0].lower()
    if "://" not in text:
        return None
    host = urlsplit(text).hostname
    return host.lower() if host else None


def _web_origin(api_url: str) -> str:
    """``https://api.github.com`` → ``https://github.com``; a GHES API URL → its host."""
    parts = urlsplit(api_url)
    host = parts.netloc.removeprefix("api.")
    return f"{parts.scheme}://{host}"


def _slug(scope: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in scope)
