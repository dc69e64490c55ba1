"""One repository commit's catalog: which files to read, Location following, observations.

Shared by the ``git`` and ``github`` sources: they provide the files the include
globs matched (path → blob), a way to look up other paths in the same commit
(:class:`Tree`) and to read blobs (:class:`BlobReader`); :func:`read_catalog`
does the rest. Blobs already parsed (the ``cache``, keyed by blob sha) are not
read or parsed again.

Location entities are followed as Backstage follows them: ``spec.target`` and
``spec.targets``, relative to the file and within the repository; a ``url``
target into the same repository and branch is followed too. A target with glob
characters leads to every file of the commit it matches
(:mod:`~trueup.sources.repository_catalog.tree_glob`; the tree is listed once per
read, whatever the number of globs). Loops, missing targets, globs that match
nothing and targets outside the repository become ``invalid-file`` findings
(rule ``location-target``); a glob that matches the file naming it is no loop.
Per-file isolation is :mod:`~trueup.sources.file`'s: a file that does not parse
keeps its previous observations, a document that does not validate keeps its
entity's previous observation.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol
from urllib.parse import unquote, urlsplit

from trueup.config_model import SourceConfig
from trueup.model.emission import DEFAULT_POLICY, EmissionPolicy
from trueup.model.finding import Code, Finding, Severity, finding
from trueup.model.observation import (
    Observation,
    Snapshot,
    misnamed_file,
    show_path,
    unstorable_rule,
)
from trueup.sources.containment import resolve_inside
from trueup.sources.descriptors import (
    LocationTarget,
    ParsedDescriptor,
    file_subject,
    followed_targets,
    kept_for_invalid,
    location_problem,
    observation_targets,
    parse_descriptor_file,
    previous_by_path,
)
from trueup.sources.placeholders import ReadOnce, Referenced, Refusal
from trueup.sources.repository_catalog.tree_glob import (
    NO_MATCH,
    OUTSIDE,
    GlobTarget,
    glob_target,
)
from trueup.sources.repository_catalog.weblinks import WebLinks


class Tree(Protocol):
    """Paths of the commit being read. Raises SourceError when it cannot answer."""

    def lookup(self, paths: Collection[str]) -> Mapping[str, str]:
        """The blob of each path that is a file; absent paths are left out."""
        ...

    def glob(self, patterns: Collection[str]) -> Mapping[str, Mapping[str, str]]:
        """The files (path → blob) each pattern matches (:class:`.tree_glob.TreeGlobs`).

        Patterns are relative to the root and normalised; a tree lists its files at
        most once, however often it is asked.
        """
        ...


class BlobReader(Protocol):
    """Blob contents. Raises SourceError when a blob cannot be read."""

    def read(self, blobs: Collection[str]) -> Iterable[tuple[str, bytes | int]]:
        """Each blob's bytes, or its size when it is over the file cap (unread).

        Given as an iterable, so that a reader can hand over a few blobs at a time.
        """
        ...


@dataclass(frozen=True, slots=True)
class UrlTargets:
    """What a ``url`` Location target means here.

    ``local`` maps a URL into this repository and branch to its path (else
    None); ``elsewhere`` names who reads a URL this scope does not (else None).
    """

    local: Callable[[str], str | None] = lambda url: None
    elsewhere: Callable[[str], str | None] = lambda url: None


def path_in_repository(web: str | None, branch: str, url: str) -> str | None:
    """The path a ``<web>/blob/<branch>/<path>`` URL names (``/tree/``, ``/-/blob/`` too).

    Percent-escapes are decoded before the path is normalised, as a browser reads
    the URL (``%2e%2e`` is a ``..`` segment): a path that then leaves the
    repository, or holds a NUL, names nothing in it.
    """
    if web is None:
        return None
    mine, theirs = urlsplit(web), urlsplit(url)
    if (theirs.hostname or "").lower() != (mine.hostname or "").lower():
        return None
    prefix = mine.path.strip("/").lower() + "/"
    path = theirs.path.lstrip("/")
    if not path.lower().startswith(prefix):
        return None
    rest = path[len(prefix) :].removeprefix("-/")
    for kind in ("blob", "tree", "raw"):
        lead = f"{kind}/{branch}/"
        if rest.startswith(lead):
            return resolve_inside("", unquote(rest[len(lead) :]))
    return None


def reader_of(url: str, sources: Sequence[SourceConfig]) -> str | None:
    """``source <id>`` when one of ``sources`` reads the repository a web URL points into."""
    target = repository_of(url)
    if target is None:
        return None
    for other in sources:
        if other.reads_repository(target):
            return f"source {other.id}"
    return None


def repository_of(url: str) -> str | None:
    """``host/owner/name`` (lowercase) of a web URL into a repository, else None."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if not parts.hostname or len(segments) < 2:
        return None
    return (
        f"{parts.hostname.lower()}/{segments[0].lower()}/{segments[1].lower().removesuffix('.git')}"
    )


@dataclass(frozen=True, slots=True)
class CatalogRequest:
    source: str
    scope: str
    repo: str  # the repository's name in locators: ``repo@commit:path#doc``
    commit: str
    included: Mapping[str, str]  # the files the include globs matched: path → blob
    observed_at: datetime
    previous: Snapshot | None = None
    links: WebLinks | None = None
    urls: UrlTargets = field(default_factory=UrlTargets)
    policy: EmissionPolicy = DEFAULT_POLICY


@dataclass
class CatalogRead:
    """The observations and findings of one commit, and what to remember of it."""

    observations: list[Observation]
    findings: list[Finding]
    files: dict[str, str]  # every file read: path → blob
    parsed: dict[str, ParsedDescriptor]  # blob → parse result
    parsed_now: int  # files parsed by this read (the others came from the cache)
    absent: list[str] = field(default_factory=list)  # Location targets looked up, not found
    ignored: dict[str, int] = field(default_factory=dict)  # path -> non-entity documents
    # Files placeholders read (path -> blob; None: absent), to know them at an unchanged head.
    dependencies: dict[str, str | None] = field(default_factory=dict)
    # Glob patterns matched against the tree: pattern -> the files (path -> blob) it matched.
    globbed: dict[str, Mapping[str, str]] = field(default_factory=dict)


_FOLLOWED = (None, "file", "url")


def unversioned(repo: str) -> Callable[[str], str]:
    """Takes the commit out of ``repo``'s locators (``repo@<commit>:path#n`` → ``repo@:path#n``).

    What a read gives :func:`~trueup.model.observation.kept_when_unchanged`: a
    file unchanged at a new head is the observation stored, locator and all.
    """
    commit = re.compile(re.escape(repo) + r"@[0-9a-f]{12}:")
    return lambda text: commit.sub(f"{repo}@:", text)


def read_catalog(
    request: CatalogRequest,
    tree: Tree,
    blobs: BlobReader,
    cache: Mapping[str, ParsedDescriptor],
) -> CatalogRead:
    """Read the included files and every Location target they reach."""
    request, misnamed = _storable_names(request)
    walk = _Walk(request, tree, blobs, cache)
    walk.run()
    previous = previous_by_path(request.previous)
    prefix = f"{request.repo}@{request.commit[:12]}"
    observations: list[Observation] = []
    findings: list[Finding] = []
    for path in sorted(walk.files):
        parsed = walk.by_path[path]
        findings.extend(parsed.located_findings(prefix))
        kept = previous.get(path, ())
        if not parsed.ok and kept:
            observations.extend(kept)  # the file does not parse: its last good observations
            continue
        location, annotations = request.links.annotations(path) if request.links else (None, {})
        fresh = parsed.observe(
            locator_prefix=prefix,
            observed_at=request.observed_at,
            source_location=location,
            annotations=annotations,
        )
        observations.extend(fresh)
        observations.extend(kept_for_invalid(parsed.findings, kept, fresh))
    findings.extend(walk.problems)
    findings.extend(misnamed)
    # Which commit showed the problem (evidence only: the finding's identity, its
    # subject and message, stays the same while the file is not fixed).
    where = {"repo": request.repo, "commit": request.commit}
    findings = [replace(f, evidence={**f.evidence, **where}) for f in findings]
    return CatalogRead(
        observations=observations,
        findings=findings,
        files=walk.files,
        parsed={walk.files[p]: walk.by_path[p] for p in walk.files},
        parsed_now=walk.parsed_now,
        absent=sorted(walk.absent),
        ignored={p: walk.by_path[p].ignored for p in walk.files if walk.by_path[p].ignored},
        dependencies={
            path: version
            for parsed in walk.by_path.values()
            for path, version in parsed.dependencies
        },
        globbed=walk.globbed,
    )


def _storable_names(request: CatalogRequest) -> tuple[CatalogRequest, list[Finding]]:
    """The request without the files whose path no store takes, and a finding for each.

    A git tree's path that is not UTF-8 (decoded with ``surrogateescape``) or an
    API's path holding a lone surrogate: its locator could not be stored, so one
    such file would fail the whole commit.
    """
    names = {path for path in request.included if unstorable_rule(path) is not None}
    if not names:
        return request, []
    included = {p: blob for p, blob in request.included.items() if p not in names}
    holder = f"the repository {request.repo}"
    findings = [
        misnamed_file(file_subject(request.source, request.scope, show_path(p)), p, holder)
        for p in sorted(names)
    ]
    return replace(request, included=included), findings


class _Walk:
    """Reads files round by round (one blob batch per round), then reports loops."""

    def __init__(
        self,
        request: CatalogRequest,
        tree: Tree,
        blobs: BlobReader,
        cache: Mapping[str, ParsedDescriptor],
    ) -> None:
        self.request = request
        self.tree = tree
        self.blobs = blobs
        self.cache = cache
        self.previous = previous_by_path(request.previous)
        self.files: dict[str, str] = dict(request.included)
        self.by_path: dict[str, ParsedDescriptor] = {}
        # (target, file it leads to, whether through a glob: one may match its own file)
        self.edges: dict[str, list[tuple[LocationTarget, str, bool]]] = {}
        self.problems: list[Finding] = []
        self.parsed_now = 0
        self.absent: set[str] = set()
        self.globbed: dict[str, Mapping[str, str]] = {}
        self.references = CommitReferences(tree, blobs, request.urls.local)

    def run(self) -> None:
        pending = sorted(self.files)
        while pending:
            self._parse(pending)
            wanted: dict[str, list[tuple[str, LocationTarget]]] = {}
            globs: list[tuple[str, LocationTarget, GlobTarget]] = []
            for path in pending:
                self.edges[path] = []
                for target in self._targets(path):
                    resolved = self._resolve(path, target)
                    if resolved is None:
                        continue
                    if isinstance(resolved, GlobTarget):
                        globs.append((path, target, resolved))
                    elif resolved in self.files:
                        self.edges[path].append((target, resolved, False))
                    else:
                        wanted.setdefault(resolved, []).append((path, target))
            found = dict(self.tree.lookup(wanted)) if wanted else {}
            for resolved, sources in sorted(wanted.items()):
                for path, target in sources:
                    if resolved in found:
                        self.edges[path].append((target, resolved, False))
                    else:
                        self.absent.add(resolved)
                        if not target.optional:  # ``spec.presence: optional``: no problem
                            self._problem(path, target, "does not exist")
            found.update(self._follow_globs(globs))
            found = {p: blob for p, blob in found.items() if p not in self.files}
            self.files.update(found)
            pending = sorted(found)
        self._report_loops()

    def _follow_globs(self, globs: list[tuple[str, LocationTarget, GlobTarget]]) -> dict[str, str]:
        """Edges to every file the globs match (one tree question for all); the files found."""
        asked = {p for _, _, glob in globs for p in glob.patterns}
        if asked:
            self.globbed.update(self.tree.glob(sorted(asked)))
        found: dict[str, str] = {}
        for path, target, glob in globs:
            matched: dict[str, str] = {}
            for pattern in glob.patterns:
                matched.update(self.globbed[pattern])
            problems = list(glob.problems)
            for resolved in sorted(matched):
                if unstorable_rule(resolved) is not None:
                    why = "whose name is not UTF-8 text, which cannot be stored; not read"
                    problems.append(f"matches {show_path(resolved)}, {why}")
                    continue
                self.edges[path].append((target, resolved, True))
                found[resolved] = matched[resolved]
            if not matched and not problems:
                problems.append(NO_MATCH)
                if target.optional:  # ``spec.presence: optional``: not there yet is no problem
                    continue
            for reason in dict.fromkeys(problems):
                self._problem(path, target, reason)
        return found

    def _parse(self, paths: list[str]) -> None:
        request = self.request
        cached = self._still_valid({p: c for p in paths if (c := self._cached(p)) is not None})
        self.by_path.update(cached)
        by_blob: dict[str, list[str]] = {}
        for path in paths:
            if path not in cached:
                by_blob.setdefault(self.files[path], []).append(path)
        for blob, content in self.blobs.read(sorted(by_blob)) if by_blob else ():
            for path in by_blob[blob]:
                self.parsed_now += 1
                if isinstance(content, int):
                    self.by_path[path] = _too_large(request, path, content)
                else:
                    self.by_path[path] = parse_descriptor_file(
                        content,
                        source=request.source,
                        scope=request.scope,
                        path=path,
                        policy=request.policy,
                        references=self.references,
                    )

    def _still_valid(self, cached: dict[str, ParsedDescriptor]) -> dict[str, ParsedDescriptor]:
        """Cached parses whose placeholder files are as they were (one tree lookup for all)."""
        watched = {p for parsed in cached.values() for p, _ in parsed.dependencies}
        if not watched:
            return cached
        now = self.tree.lookup(watched)
        return {
            path: parsed
            for path, parsed in cached.items()
            if all(now.get(p) == version for p, version in parsed.dependencies)
        }

    def _cached(self, path: str) -> ParsedDescriptor | None:
        """A parse of the same blob; one made under another path only if path-free."""
        cached = self.cache.get(self.files[path])
        if cached is None or cached.path == path:
            return cached
        if cached.findings or cached.dependencies:
            return None  # its findings or placeholders name the old path: parse again
        return replace(cached, path=path)

    def _targets(self, path: str) -> list[LocationTarget]:
        parsed = self.by_path[path]
        kept = self.previous.get(path)
        if not parsed.ok and kept:
            return observation_targets(kept)
        return followed_targets(parsed, kept or ())

    def _resolve(self, path: str, target: LocationTarget) -> str | GlobTarget | None:
        """The path a target names (relative to the root), its glob, or None (reported)."""
        if target.type not in _FOLLOWED:
            self._problem(
                path,
                target,
                f"has type {target.type!r}, which a git source does not follow",
                severity=Severity.INFO,
            )
            return None
        text = target.target
        if "://" in text:
            local = self.request.urls.local(text)
            if local is not None:
                return glob_target("", local) or local
            reader = self.request.urls.elsewhere(text)
            if reader is not None:
                self._problem(path, target, f"is read by {reader}", severity=Severity.INFO)
            else:
                self._problem(
                    path,
                    target,
                    "is a URL outside this repository that no configured source reads",
                    severity=Severity.WARNING,
                )
            return None
        globbed = glob_target(posixpath.dirname(path), text)
        if globbed is not None:
            return globbed
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), text))
        if text.startswith("/") or joined == ".." or joined.startswith("../"):
            self._problem(path, target, OUTSIDE)
            return None
        return joined

    def _report_loops(self) -> None:
        """Depth first from each included file, as Backstage walks: a back edge is a loop."""
        done: set[str] = set()
        for start in sorted(self.request.included):
            if start in done:
                continue
            stack: list[tuple[str, Iterator[tuple[LocationTarget, str, bool]]]] = [
                (start, iter(self.edges.get(start, ())))
            ]
            on_stack = {start}
            done.add(start)
            while stack:
                path, edges = stack[-1]
                edge = next(edges, None)
                if edge is None:
                    stack.pop()
                    on_stack.discard(path)
                    continue
                target, resolved, globbed = edge
                if resolved in on_stack:
                    if not globbed:  # a glob may match its own file: Backstage reads on
                        self._problem(path, target, f"forms a loop back to {resolved}")
                elif resolved not in done:
                    done.add(resolved)
                    on_stack.add(resolved)
                    stack.append((resolved, iter(self.edges.get(resolved, ()))))

    def _problem(
        self, path: str, target: LocationTarget, reason: str, *, severity: Severity | None = None
    ) -> None:
        request = self.request
        self.problems.append(
            location_problem(request.source, request.scope, path, target, reason, severity=severity)
        )


def _too_large(request: CatalogRequest, path: str, size: int) -> ParsedDescriptor:
    cap = request.policy.max_file_bytes
    problem = finding(
        Code.INVALID_FILE,
        file_subject(request.source, request.scope, path),
        f"{path}: the file does not parse: file is {size} bytes, over the "
        f"{cap} cap [file-too-large]",
        path=path,
        document=None,
        rule="file-too-large",
        line=None,
    )
    return ParsedDescriptor(request.source, request.scope, path, (), (problem,), ok=False)


class CommitReferences(ReadOnce):
    """Placeholder targets in the commit being read: relative paths, or URLs into it.

    A URL into this repository and branch is read from the same commit; any other
    URL is not fetched. A symlink is no file (:meth:`Tree.lookup` leaves it out).
    """

    def __init__(self, tree: Tree, blobs: BlobReader, local: Callable[[str], str | None]) -> None:
        super().__init__()
        self.tree, self.blobs, self.local = tree, blobs, local

    def resolve(self, base_file: str, target: str) -> str | Refusal:
        if "://" in target:
            inside = self.local(target)
            if inside is None:
                return Refusal(
                    "is a URL outside this repository and branch; trueup reads placeholders "
                    "from the commit being read only"
                )
            return inside
        path = resolve_inside(base_file, target)
        return path if path is not None else Refusal("leads out of the repository")

    def _load(self, path: str, max_bytes: int) -> Referenced:
        blob = self.tree.lookup([path]).get(path)
        if blob is None:
            return Referenced(None, None, "does not exist in this commit (or is no regular file)")
        for _, content in self.blobs.read([blob]):
            if isinstance(content, int) or len(content) > max_bytes:
                size = content if isinstance(content, int) else len(content)
                return Referenced(
                    None, blob, f"is {size} bytes, over the {max_bytes}-byte placeholder cap"
                )
            return Referenced(content, blob)
        return Referenced(None, blob, "could not be read")
