"""The ``file`` source: a local folder of Backstage descriptor files (intent).

Built by the engine from a :class:`~trueup.config.FileSourceConfig`; it reads
one scope, named after the source id. It reads every file under ``path`` that
the ``include`` globs match, plus every file that a ``Location`` entity among
them targets (``spec.target``/``spec.targets``, relative to the file, as
Backstage does), and turns each into observations with
:mod:`trueup.sources.descriptors`.

Failure isolation: a file that does not parse keeps the observations it had in
the previous snapshot (the scope's other files are read as usual) and adds a
finding. A root folder that is missing or unreadable, or a listing that could
not be completed, is a :class:`ScopeFailure` and replaces nothing.

Cost grows with change: each document's locator carries its file's content hash
(``catalog@1a2b3c4d5e6f:teams/a.yaml#0``), so a file whose bytes did not change
since the previous snapshot is not parsed again; its observations (with the
time they were first seen) and findings are carried over as they were. Each
file is a *part* of the scope (``Observation.part``, fingerprint: its content
hash). Against a stored snapshot (``previous.stored``), an unchanged file is
not even loaded: the snapshot names it in ``kept`` and the store keeps its
rows; only a file that changed, broke or holds a Location has its stored
observations read.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from trueup.config import FileSourceConfig
from trueup.model.finding import Code, Finding, Severity, finding
from trueup.model.observation import (
    FailureKind,
    Nature,
    Observation,
    ScopeFailure,
    ScopeRead,
    Snapshot,
    StoredParts,
)
from trueup.parse.catalog_yaml import MAX_FILE_BYTES
from trueup.sources.base import ReadContext
from trueup.sources.descriptors import (
    IncludeGlobs,
    LocationTarget,
    ParsedDescriptor,
    file_subject,
    kept_for_invalid,
    location_problem,
    location_targets,
    observation_targets,
    parse_descriptor_file,
    previous_by_path,
)

_FOLLOWED_TYPES = (None, "file")


@dataclass(frozen=True, slots=True)
class _Unlisted:
    """Why the folder could not be listed completely."""

    kind: FailureKind
    message: str


@dataclass(frozen=True, slots=True)
class _FileRead:
    """One file as read: its digest for the version, and what it parsed to."""

    digest: str
    parsed: ParsedDescriptor | None  # None when the file could not be read
    findings: tuple[Finding, ...]


class FileSource:
    """Reads a folder of descriptor files; one scope, named after the source id."""

    nature = Nature.INTENT

    def __init__(self, config: FileSourceConfig) -> None:
        self.config = config
        self._globs = IncludeGlobs(config.include)

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def scope(self) -> str:
        return self.config.id

    def observe(self, context: ReadContext) -> Iterator[ScopeRead]:
        yield self._read(context)

    def _read(self, context: ReadContext) -> ScopeRead:
        now = context.now()
        root = Path(self.config.path).absolute()
        included = _list_files(root, self._globs)
        if isinstance(included, _Unlisted):
            return ScopeFailure(self.id, self.scope, included.kind, included.message, now)

        last = context.previous.get(self.scope)
        stored = last.stored if last is not None else None
        previous: _Previous = (
            _StoredPrevious(stored, last.parts)
            if last is not None and stored is not None and last.parts
            else _InMemoryPrevious(previous_by_path(last))
        )
        walk = _Walk(self, root, previous, _findings_by_path(last))
        for path in included:
            walk.visit(path)

        version = _version(walk.reads)
        observations: list[Observation] = []
        findings: list[Finding] = []
        parts: dict[str, str] = {}
        kept_parts: set[str] = set()
        for path in sorted(walk.reads):
            read = walk.reads[path]
            findings.extend(read.findings)
            kept = walk.kept.get(path)
            if kept is not None:
                print_ = previous.fingerprint(path)
                if print_ is not None:  # the store keeps these rows as they are
                    kept_parts.add(path)
                    parts[path] = print_
                else:
                    observations.extend(replace(o, part=path) for o in kept)
                    parts[path] = _fingerprint(read.digest, kept)
            elif read.parsed is not None:
                folder = (root / path).parent
                fresh = read.parsed.observe(
                    locator_prefix=_prefix(self.id, read.digest),
                    observed_at=now,
                    source_location=f"file:{folder}/",
                )
                mine = [
                    *fresh,
                    *kept_for_invalid(read.findings, previous.get(path, ()), fresh),
                ]
                observations.extend(replace(o, part=path) for o in mine)
                parts[path] = _fingerprint(read.digest, mine)
            else:
                parts[path] = _fingerprint(read.digest, ())
        findings.extend(walk.location_findings)
        return Snapshot(
            source=self.id,
            scope=self.scope,
            nature=Nature.INTENT,
            read_at=now,
            observations=tuple(observations),
            findings=tuple(findings),
            version=version,
            parts=parts,
            kept=frozenset(kept_parts),
        )


class _Previous:
    """The previous read's observations by file, and whether a file is unchanged."""

    def get(self, path: str, default: tuple[Observation, ...] = ()) -> tuple[Observation, ...]:
        raise NotImplementedError

    def unchanged(self, path: str, digest: str, marker: str) -> bool:
        raise NotImplementedError

    def fingerprint(self, path: str) -> str | None:
        """The stored fingerprint of a file (None for a snapshot held in memory)."""
        return None

    def kept_targets(self, path: str) -> list[LocationTarget]:
        return observation_targets(self.get(path))


class _InMemoryPrevious(_Previous):
    """A previous snapshot given whole (tests, a source driven by hand)."""

    def __init__(self, by_path: dict[str, tuple[Observation, ...]]) -> None:
        self.by_path = by_path

    def get(self, path: str, default: tuple[Observation, ...] = ()) -> tuple[Observation, ...]:
        return self.by_path.get(path, default)

    def unchanged(self, path: str, digest: str, marker: str) -> bool:
        before = self.by_path.get(path, ())
        return bool(before) and all(o.provenance.locator.startswith(marker) for o in before)


class _StoredPrevious(_Previous):
    """A stored snapshot: fingerprints up front, a file's observations only when asked."""

    def __init__(self, stored: StoredParts, prints: Mapping[str, str]) -> None:
        self.stored = stored
        self.prints = prints
        self.loaded: dict[str, tuple[Observation, ...]] = {}

    def get(self, path: str, default: tuple[Observation, ...] = ()) -> tuple[Observation, ...]:
        if path not in self.prints:
            return default
        if path not in self.loaded:
            self.loaded[path] = tuple(self.stored.observations([path]))
        return self.loaded[path] or default

    def unchanged(self, path: str, digest: str, marker: str) -> bool:
        return self.prints.get(path, "").split(" ")[0] == digest

    def fingerprint(self, path: str) -> str | None:
        return self.prints.get(path)

    def kept_targets(self, path: str) -> list[LocationTarget]:
        if not self.prints.get(path, "").endswith(_HAS_LOCATION):
            return []
        return observation_targets(self.get(path))


_HAS_LOCATION = " location"


def _fingerprint(digest: str, observations: Iterable[Observation]) -> str:
    """A file's content hash, marked when it declares a Location (whose targets are followed)."""
    located = any(o.ref.kind == "location" for o in observations)
    return digest + (_HAS_LOCATION if located else "")


class _Walk:
    """Reads files and follows Location targets depth first, reporting loops."""

    def __init__(
        self,
        source: FileSource,
        root: Path,
        previous: _Previous,
        previous_findings: dict[str, tuple[Finding, ...]],
    ) -> None:
        self.source = source
        self.root = root
        self.real_root = root.resolve()
        self.previous = previous
        self.previous_findings = previous_findings
        self.reads: dict[str, _FileRead] = {}
        self.kept: dict[str, tuple[Observation, ...]] = {}
        self.location_findings: list[Finding] = []

    def visit(self, start: str) -> None:
        if start in self.reads:
            return
        stack = [(start, iter(self._read(start)))]
        on_stack = {start}
        while stack:
            path, targets = stack[-1]
            target = next(targets, None)
            if target is None:
                stack.pop()
                on_stack.discard(path)
                continue
            resolved = self._resolve(path, target)
            if resolved is None:
                continue
            if resolved in on_stack:
                self._problem(path, target, f"forms a loop back to {resolved}")
                continue
            if resolved in self.reads:
                continue  # read already, through the globs or another Location
            stack.append((resolved, iter(self._read(resolved))))
            on_stack.add(resolved)

    def _read(self, path: str) -> list[LocationTarget]:
        """Read and parse one file; return the Location targets it contributes."""
        source = self.source
        try:
            with (self.root / path).open("rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)  # the parser reports what is too large
        except OSError as exc:
            self.reads[path] = _FileRead(
                digest=f"unreadable:{exc.errno}",
                parsed=None,
                findings=(
                    finding(
                        Code.INVALID_FILE,
                        file_subject(source.id, source.scope, path),
                        f"{path}: the file cannot be read: {exc.strerror}",
                        path=path,
                        document=None,
                        rule="unreadable",
                        line=None,
                    ),
                ),
            )
            self.kept[path] = self.previous.get(path, ())
            return observation_targets(self.kept[path])
        digest = hashlib.sha256(data).hexdigest()
        marker = _prefix(source.id, digest) + ":"
        if self.previous.unchanged(path, digest, marker):
            # The same bytes as last time: no parsing, the same observations and findings.
            self.reads[path] = _FileRead(digest, None, self.previous_findings.get(path, ()))
            self.kept[path] = ()  # loaded only when needed: the store keeps them
            if self.previous.fingerprint(path) is None:
                self.kept[path] = self.previous.get(path, ())
            return self.previous.kept_targets(path)
        parsed = parse_descriptor_file(data, source=source.id, scope=source.scope, path=path)
        self.reads[path] = _FileRead(digest, parsed, parsed.findings)
        if not parsed.ok and self.previous.get(path):
            self.kept[path] = self.previous.get(path)
            return observation_targets(self.kept[path])
        return [
            target
            for document in parsed.documents
            for target in location_targets(document.index, document.fields)
        ]

    def _resolve(self, path: str, target: LocationTarget) -> str | None:
        """The target as a path relative to the root, or None after reporting why not."""
        if target.type not in _FOLLOWED_TYPES:
            self._problem(
                path,
                target,
                f"has type {target.type!r}, which a file source does not follow",
                severity=Severity.INFO,
            )
            return None
        if "://" in target.target:
            self._problem(path, target, "is a URL, which a file source does not follow")
            return None
        lexical = Path(os.path.normpath((self.root / path).parent / target.target))
        try:
            relative = lexical.relative_to(self.root).as_posix()
            inside = lexical.resolve().is_relative_to(self.real_root)
        except ValueError:
            inside = False
        if not inside:
            self._problem(path, target, f"is outside the folder {self.root}")
            return None
        if not lexical.is_file():
            self._problem(path, target, "does not exist")
            return None
        return relative

    def _problem(
        self,
        path: str,
        target: LocationTarget,
        reason: str,
        *,
        severity: Severity | None = None,
    ) -> None:
        source = self.source
        self.location_findings.append(
            location_problem(source.id, source.scope, path, target, reason, severity=severity)
        )


def _list_files(root: Path, globs: IncludeGlobs) -> list[str] | _Unlisted:
    """Every file under root that the globs match, as sorted relative POSIX paths."""
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a folder"
        return _Unlisted(FailureKind.UNREACHABLE, f"the folder {root} {what}")
    errors: list[OSError] = []
    matched: list[str] = []
    for folder, dirs, names in os.walk(root, onerror=errors.append):
        dirs.sort()
        base = Path(folder).relative_to(root)
        for name in names:
            relative = (base / name).as_posix()
            if globs.matches(relative) and (Path(folder) / name).is_file():
                matched.append(relative)
    if errors:
        error = errors[0]
        if Path(str(error.filename)) == root:
            return _Unlisted(
                FailureKind.UNREACHABLE, f"the folder {root} cannot be read: {error.strerror}"
            )
        kind = FailureKind.FORBIDDEN if isinstance(error, PermissionError) else FailureKind.ERROR
        return _Unlisted(kind, f"the folder {error.filename} cannot be listed: {error.strerror}")
    return sorted(matched)


def _prefix(source_id: str, digest: str) -> str:
    """The locator prefix of one file's documents: the source and the file's content hash."""
    return f"{source_id}@{digest[:12]}"


def _findings_by_path(snapshot: Snapshot | None) -> dict[str, tuple[Finding, ...]]:
    """The previous read's findings about each file (Location findings are recomputed)."""
    grouped: dict[str, list[Finding]] = {}
    for f in snapshot.findings if snapshot is not None else ():
        path = f.evidence.get("path")
        if isinstance(path, str) and f.evidence.get("rule") != "location-target":
            grouped.setdefault(path, []).append(f)
    return {path: tuple(items) for path, items in grouped.items()}


def _version(reads: dict[str, _FileRead]) -> str:
    """A short hash over every file read and its content."""
    digest = hashlib.sha256()
    for path in sorted(reads):
        digest.update(f"{path}\0{reads[path].digest}\n".encode())
    return digest.hexdigest()[:12]
