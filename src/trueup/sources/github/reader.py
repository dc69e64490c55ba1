"""Reading one GitHub repository's catalog files at its branch head.

Called by :class:`~trueup.sources.github.source.GithubSource` for each
repository scope. What it asks GitHub, and why that is the cheapest way:

1. ``GET /repos/{o}/{r}/commits/{branch}`` with ``Accept: application/vnd.github.sha``
   and ``If-None-Match``: an unchanged head is a ``304`` (free), and then
   nothing else is requested: the snapshot comes from the remembered parse
   results (glob Location targets from the matches remembered for that
   commit). Per-file ``contents`` requests would cost one (free) request per
   catalog file and could not give one consistent commit.
2. On a new head: ``GET /repos/{o}/{r}/git/trees/{sha}?recursive=1`` (one
   request, every path and blob sha; it answers every glob Location target
   too). A ``truncated`` tree is walked again non-recursively, one subtree per
   request; a subtree that is itself truncated fails the scope: deletions are
   never inferred from an incomplete tree.
3. ``GET /repos/{o}/{r}/git/blobs/{sha}`` for the blobs not parsed before only
   (a blob is immutable: its sha is its cache key); blobs over the parser's cap
   are not downloaded.

With ``use_git_for_content`` steps 2 and 3 are a ``git fetch`` into a bare clone
instead (no API request at all; worth it for repositories with many catalog
files); the token then travels in an ``http.extraHeader`` given through the
environment, never on a command line or in a URL.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import quote

from trueup.errors import GithubError
from trueup.git.repository import GitRepository
from trueup.model.emission import DEFAULT_POLICY, EmissionPolicy
from trueup.model.finding import JSONValue
from trueup.model.observation import FailureKind, Nature, Snapshot, kept_when_unchanged
from trueup.sources.descriptors import IncludeGlobs
from trueup.sources.github.client import SHA_ACCEPT, GithubClient
from trueup.sources.repository_catalog.cache import ScopeState, load_state, save_state
from trueup.sources.repository_catalog.catalog import (
    BlobReader,
    CatalogRequest,
    Tree,
    UrlTargets,
    path_in_repository,
    read_catalog,
    unversioned,
)
from trueup.sources.repository_catalog.tree_glob import TreeGlobs
from trueup.sources.repository_catalog.weblinks import WebLinks


class RepoPayload(TypedDict, total=False):
    """The fields of GitHub's repository object that trueup uses."""

    id: int
    full_name: str
    default_branch: str
    archived: bool
    disabled: bool
    html_url: str
    clone_url: str


@dataclass(frozen=True, slots=True)
class RepoTarget:
    """One repository scope to read."""

    scope: str
    full_name: str
    branch: str
    html_url: str
    clone_url: str


@dataclass
class RepoReadSettings:
    source: str
    globs: IncludeGlobs
    state_dir: Path
    clone_dir: Path
    use_git: bool = False
    git_timeout: float = 300.0
    git_env: Mapping[str, str] = field(default_factory=dict)
    redact: tuple[str, ...] = ()
    elsewhere: Callable[[str], str | None] = lambda url: None  # who reads another repo's URL
    policy: EmissionPolicy = DEFAULT_POLICY


@dataclass
class RepoRead:
    snapshot: Snapshot
    parsed_now: int


def read_repository(
    client: GithubClient,
    target: RepoTarget,
    settings: RepoReadSettings,
    *,
    previous: Snapshot | None,
    now: datetime,
) -> RepoRead:
    """A complete snapshot of one repository, or GithubError/SourceError."""
    state_path = settings.state_dir / f"{_slug(target.scope)}.json"
    state = load_state(state_path, source=settings.source, scope=target.scope)
    owner_repo = _path(target.full_name)
    head = (
        client.get(
            f"/repos/{owner_repo}/commits/{quote(target.branch, safe='')}", accept=SHA_ACCEPT
        )
        .body.decode()
        .strip()
    )
    if len(head) != 40:
        raise GithubError(FailureKind.ERROR, f"{target.full_name}: unexpected head {head[:50]!r}")
    tree: Tree
    blobs: BlobReader
    patterns: list[JSONValue] = list(settings.globs.patterns)
    cap = settings.policy.max_file_bytes
    if state.extra.get("policy") != settings.policy.fingerprint:
        state = ScopeState()  # another emission policy parses differently: parse again
    elif state.extra.get("include") != patterns:
        state = ScopeState(parsed=state.parsed)  # other catalog paths: read the tree again
    if state.commit == head:
        included = dict(state.included)
        absent = state.extra.get("absent")
        missing = set(absent) if isinstance(absent, list) else set()
        files = dict(state.files)
        read_by_placeholders = state.extra.get("dependencies")
        for path, blob in (read_by_placeholders or {}).items():
            if isinstance(blob, str):
                files.setdefault(path, blob)
            else:
                missing.add(path)
        tree = _LazyApiTree(
            client, owner_repo, head, files, frozenset(missing), globbed=_remembered_globs(state)
        )
        blobs = _ApiBlobs(client, owner_repo, {}, cap)
    elif settings.use_git:
        repo = GitRepository(
            target.clone_url,
            settings.clone_dir / f"{_slug(target.scope)}.git",
            timeout=settings.git_timeout,
            env=settings.git_env,
            redact=settings.redact,
        )
        with repo.locked():
            fetched = repo.fetch(target.branch)
        if fetched != head:
            raise GithubError(
                FailureKind.ERROR,
                f"{target.full_name}: git fetched {fetched[:12]} but the API head is {head[:12]}; "
                "read again later",
            )
        listing = repo.list_files(head)
        included = {p: b for p, b in listing.items() if settings.globs.matches(p)}
        tree = _MapTree(listing)
        blobs = _GitBlobs(repo, cap)
    else:
        entries = _full_tree(client, owner_repo, head)
        included = {p: b for p, (b, _) in entries.items() if settings.globs.matches(p)}
        tree = _MapTree({p: b for p, (b, _) in entries.items()})
        blobs = _ApiBlobs(client, owner_repo, {b: size for b, size in entries.values()}, cap)
    request_web = target.html_url.rstrip("/") or None
    request = CatalogRequest(
        source=settings.source,
        scope=target.scope,
        repo=target.full_name,
        commit=head,
        included=included,
        observed_at=now,
        previous=previous,
        links=WebLinks(branch=target.branch, web=request_web, host="github"),
        urls=UrlTargets(
            local=lambda url: path_in_repository(request_web, target.branch, url),
            elsewhere=settings.elsewhere,
        ),
        policy=settings.policy,
    )
    result = read_catalog(request, tree, blobs, state.parsed)
    save_state(
        state_path,
        ScopeState(
            commit=head,
            included=included,
            files=result.files,
            parsed=result.parsed,
            extra={
                "absent": list(result.absent),
                "include": patterns,
                "policy": settings.policy.fingerprint,
                "dependencies": dict(result.dependencies),
                "globs": {p: dict(files) for p, files in result.globbed.items()},
            },
        ),
    )
    snapshot = Snapshot(
        source=settings.source,
        scope=target.scope,
        nature=Nature.INTENT,
        read_at=now,
        observations=tuple(result.observations),
        findings=tuple(result.findings),
        version=head,
        ignored=result.ignored,
    )
    kept = kept_when_unchanged(snapshot, previous, unversioned=unversioned(target.full_name))
    return RepoRead(kept, result.parsed_now)


def _full_tree(client: GithubClient, repo: str, commit: str) -> dict[str, tuple[str, int]]:
    """Every file of a commit: path → (blob sha, size); a truncated listing is walked again."""
    # Trees and blobs are named by their sha, so they never change: no ETag to keep.
    data = client.get_json(
        f"/repos/{repo}/git/trees/{commit}", params={"recursive": "1"}, conditional=False
    )
    if not data.get("truncated"):
        return _blobs_of(data.get("tree") or [], "")
    files: dict[str, tuple[str, int]] = {}
    folders = [("", str(data.get("sha") or commit))]
    while folders:
        prefix, sha = folders.pop()
        level = client.get_json(f"/repos/{repo}/git/trees/{sha}", conditional=False)
        if level.get("truncated"):
            raise GithubError(
                FailureKind.INVALID,
                f"{repo}: the tree {prefix or '/'} is truncated even when read level by level; "
                "its files are not read (nothing is inferred as removed)",
            )
        for entry in level.get("tree") or []:
            if entry.get("type") == "tree":
                folders.append((f"{prefix}{entry['path']}/", str(entry["sha"])))
        files.update(_blobs_of(level.get("tree") or [], prefix))
    return files


def _blobs_of(entries: list[Any], prefix: str) -> dict[str, tuple[str, int]]:
    return {
        f"{prefix}{e['path']}": (str(e["sha"]), int(e.get("size") or 0))
        for e in entries
        if e.get("type") == "blob" and e.get("mode") in ("100644", "100755")
    }


class _MapTree:
    def __init__(self, files: Mapping[str, str]) -> None:
        self.files = files
        self._globs = TreeGlobs(files)

    def lookup(self, paths: Collection[str]) -> Mapping[str, str]:
        return {p: self.files[p] for p in paths if p in self.files}

    def glob(self, patterns: Collection[str]) -> Mapping[str, Mapping[str, str]]:
        return self._globs.match(patterns)


class _LazyApiTree:
    """The tree of an unchanged head: what the last read of the commit knew, else fetched."""

    def __init__(
        self,
        client: GithubClient,
        repo: str,
        commit: str,
        known: Mapping[str, str],
        absent: frozenset[str],
        *,
        globbed: Mapping[str, Mapping[str, str]],
    ) -> None:
        self.client, self.repo, self.commit = client, repo, commit
        self.known, self.absent, self.globbed = known, absent, globbed
        self._tree: _MapTree | None = None

    def lookup(self, paths: Collection[str]) -> Mapping[str, str]:
        if all(p in self.known or p in self.absent for p in paths):
            return {p: self.known[p] for p in paths if p in self.known}
        return self._fetched().lookup(paths)

    def glob(self, patterns: Collection[str]) -> Mapping[str, Mapping[str, str]]:
        if all(p in self.globbed for p in patterns):  # the same commit: the same matches
            return {p: self.globbed[p] for p in patterns}
        return self._fetched().glob(patterns)

    def _fetched(self) -> _MapTree:
        if self._tree is None:
            entries = _full_tree(self.client, self.repo, self.commit)
            self._tree = _MapTree({p: b for p, (b, _) in entries.items()})
        return self._tree


def _remembered_globs(state: ScopeState) -> dict[str, dict[str, str]]:
    """The glob matches the last read of the commit remembered (pattern → path → blob)."""
    remembered = state.extra.get("globs")
    if not isinstance(remembered, dict):
        return {}
    return {
        str(pattern): {str(p): str(b) for p, b in files.items()}
        for pattern, files in remembered.items()
        if isinstance(files, dict)
    }


class _ApiBlobs:
    def __init__(
        self, client: GithubClient, repo: str, sizes: Mapping[str, int], max_bytes: int
    ) -> None:
        self.client, self.repo, self.sizes, self.max_bytes = client, repo, sizes, max_bytes

    def read(self, blobs: Collection[str]) -> Iterator[tuple[str, bytes | int]]:
        for sha in sorted(blobs):
            size = self.sizes.get(sha, 0)
            if size > self.max_bytes:
                yield sha, size  # not downloaded: the parser's cap refuses it anyway
                continue
            data = self.client.get_json(f"/repos/{self.repo}/git/blobs/{sha}", conditional=False)
            try:
                content = base64.b64decode(str(data.get("content") or ""))
            except (binascii.Error, ValueError) as exc:
                raise GithubError(
                    FailureKind.ERROR, f"{self.repo}: blob {sha} is not base64"
                ) from exc
            yield sha, content if len(content) <= self.max_bytes else len(content)


class _GitBlobs:
    def __init__(self, repo: GitRepository, max_bytes: int) -> None:
        self.repo = repo
        self.max_bytes = max_bytes

    def read(self, blobs: Collection[str]) -> Iterator[tuple[str, bytes | int]]:
        return self.repo.iter_blobs(blobs, max_bytes=self.max_bytes)


def _path(full_name: str) -> str:
    owner, _, name = full_name.partition("/")
    return f"{quote(owner, safe='')}/{quote(name, safe='')}"


def _slug(scope: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in scope)
