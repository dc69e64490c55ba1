"""The ``file`` source: a local folder of Backstage descriptor files (intent).

Built by its plugin from a :class:`~trueup.sources.file.config.FileSourceConfig`; it reads
one scope, named after the source id. It reads every file under ``path`` that
the ``include`` globs match, plus every file that a ``Location`` entity among
them targets (``spec.target``/``spec.targets``, relative to the file; a glob to
every file it matches: :mod:`trueup.sources.file.targets`), as Backstage does,
and turns each into observations with :mod:`trueup.sources.descriptors`.

What is read follows :mod:`trueup.path_policy`: a file (or Location target)
that resolves outside ``path`` through a symbolic link, or that is not a
regular file (a FIFO, a socket, a device), is never read; it is an
``invalid-file`` finding naming it, with the policy's rule.

Failure isolation: a file that does not parse keeps the observations it had in
the previous snapshot (the scope's other files are read as usual) and adds a
finding. A root folder that is missing or unreadable, or a listing that could
not be completed, is a :class:`ScopeFailure` and replaces nothing.

Cost grows with change: each document's locator carries its file's content hash
(``catalog@1a2b3c4d5e6f:teams/a.yaml#0``), so a file whose bytes did not change
since the previous snapshot is not parsed again; its observations (with the
time they were first seen) and findings are carried over as they were. What a
file's parse depended on besides its bytes (the files its ``$text``/``$json``/
``$yaml`` placeholders read, the emission policy, the folder named in each
source location) is remembered in ``files.json`` in the source's data folder: a
change to a referenced file alone parses the descriptor again, another policy or
``path`` every file. Placeholders read only inside the folder.

As git does for its index, ``files.json`` also keeps each file's ``lstat``
(device, inode, size, modification and change times in nanoseconds, mode): a
plain regular file the listing finds with the same ``lstat`` is not even read
or hashed (:mod:`trueup.sources.lstat_memo`). A file written just before the
read is not trusted that way (it could change again within the same clock
tick), nor is a symbolic link or a file reached only through a Location: those
are read through :mod:`trueup.path_policy` every time.

Each file is a *part* of the scope (``Observation.part``; its fingerprint,
:func:`~trueup.sources.file.previous.part_fingerprint`, covers its content
hash, the versions of the files its placeholders read and the settings it was
parsed under). Against a stored snapshot (``previous.stored``), an unchanged
file is not even loaded: the snapshot names it in ``kept`` and the store keeps
its rows; only a file that changed, broke or holds a Location has its stored
observations read. ``files.json`` is written when the read ends, before the
commit, which may fail: a file is kept only when the stored fingerprint, which
lands with the observations, names this read's settings too.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from trueup.model.finding import Code, Finding, Severity, finding
from trueup.model.observation import (
    Nature,
    Observation,
    ScopeFailure,
    ScopeRead,
    Snapshot,
    misnamed_file,
    show_path,
)
from trueup.path_policy import Folder
from trueup.path_policy import Refusal as PathRefusal
from trueup.sources.base import ReadContext
from trueup.sources.descriptors import (
    LOCATION_TARGET,
    IncludeGlobs,
    LocationTarget,
    ParsedDescriptor,
    file_subject,
    followed_targets,
    holds_invalid,
    kept_for_invalid,
    location_problem,
    observation_targets,
    parse_descriptor_file,
    previous_by_path,
)
from trueup.sources.file.config import FileSourceConfig
from trueup.sources.file.listing import Unlisted, list_files
from trueup.sources.file.prefetch import Parsed, Prefetch
from trueup.sources.file.previous import (
    InMemoryPrevious,
    Previous,
    StoredPrevious,
    part_fingerprint,
    settings_hash,
)
from trueup.sources.file.references import FolderReferences
from trueup.sources.file.targets import FolderTargets, Followed
from trueup.sources.lstat_memo import load_memo, save_memo, stat_key, trusted_stat

_FOLLOWED_TYPES = (None, "file")


@dataclass(frozen=True, slots=True)
class _FileRead:
    """One file as read: its digest for the version, and what it parsed to."""

    digest: str
    parsed: ParsedDescriptor | None  # None when the file could not be read
    findings: tuple[Finding, ...]
    ignored: int = 0
    dependencies: tuple[tuple[str, str | None], ...] = ()


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
        started_ns = time.time_ns()  # the file system's clock, not the (testable) run clock
        root = Path(self.config.path).absolute()
        folder_links: list[str] = []
        misnamed: list[str] = []
        included = list_files(root, self._globs, folder_links, misnamed)
        if isinstance(included, Unlisted):
            return ScopeFailure(self.id, self.scope, included.kind, included.message, now)

        last = context.previous.get(self.scope)
        stored = last.stored if last is not None else None
        previous: Previous = (
            StoredPrevious(stored, last.parts)
            if last is not None and stored is not None and last.parts
            else InMemoryPrevious(previous_by_path(last), last.parts if last is not None else {})
        )
        policy = context.emission
        state_path = context.data_dir / "files.json" if context.data_dir is not None else None
        # what a parse depends on besides the bytes: the policy, the folder (source locations)
        settings = {"format": _STATE_FORMAT, "policy": policy.fingerprint, "root": str(root)}
        parsed_with = settings_hash(policy.fingerprint, str(root))
        remembered = _load_state(state_path, settings)
        walk = _Walk(
            self,
            root,
            previous,
            _findings_by_path(last),
            context=context,
            remembered=remembered,
            listed=included,
            settings=parsed_with,
        )
        walk.prefetch = Prefetch(root, self.id, self.scope, policy, walk.to_parse(included))
        try:
            for path in included:
                walk.visit(path)
        finally:
            walk.prefetch.close()

        version = _version(walk.reads)
        observations: list[Observation] = []
        findings: list[Finding] = []
        state: dict[str, dict[str, Any]] = {}
        parts: dict[str, str] = {}
        kept_parts: set[str] = set()
        for path in sorted(walk.reads):
            read = walk.reads[path]
            findings.extend(read.findings)
            kept = walk.kept.get(path)
            start = len(observations)
            documents: int | None = None
            if kept is not None:
                stored_print = previous.fingerprint(path)
                if stored_print is not None and path not in walk.unusable:  # the store keeps them
                    kept_parts.add(path)
                    parts[path] = stored_print
                    documents = walk.documents.get(path, len(kept))
                else:
                    observations.extend(replace(o, part=path) for o in kept)
                    parts[path] = part_fingerprint(
                        read.digest, read.dependencies, kept, parsed_with
                    )
            elif read.parsed is not None:
                folder = (root / path).parent
                fresh = read.parsed.observe(
                    locator_prefix=_prefix(self.id, read.digest),
                    observed_at=now,
                    source_location=f"file:{folder}/",
                    reference_locator=lambda where, version: f"{self.id}@{version[:12]}:{where}",
                    part=path,
                )
                kept_for = previous.get(path, ()) if holds_invalid(read.findings) else ()
                held = kept_for_invalid(read.findings, kept_for, fresh)
                observations.extend(fresh)
                observations.extend(replace(o, part=path) for o in held)
                parts[path] = part_fingerprint(
                    read.digest, read.dependencies, [*fresh, *held], parsed_with
                )
            else:
                parts[path] = part_fingerprint(read.digest, read.dependencies, (), parsed_with)
            state[path] = {
                "digest": read.digest,
                "documents": len(observations) - start if documents is None else documents,
                "ignored": read.ignored,
                "dependencies": [list(d) for d in read.dependencies],
            }
            trusted = _trusted_stat(included.get(path), read.digest, started_ns)
            if trusted is not None:
                state[path]["stat"] = trusted
        findings.extend(walk.location_findings)
        findings.extend(self._folder_link(root, link) for link in sorted(folder_links))
        holder = f"the folder {show_path(str(root))}"
        for name in sorted(misnamed):  # not read: no store takes its name
            subject = file_subject(self.id, self.scope, show_path(name))
            findings.append(misnamed_file(subject, name, holder))
        if state_path is not None:
            _save_state(state_path, settings, state, remembered)
        return Snapshot(
            source=self.id,
            scope=self.scope,
            nature=Nature.INTENT,
            read_at=now,
            observations=tuple(observations),
            findings=tuple(findings),
            version=version,
            ignored={path: read.ignored for path, read in walk.reads.items() if read.ignored},
            parts=parts,
            kept=frozenset(kept_parts),
        )

    def _folder_link(self, root: Path, link: str) -> Finding:
        """A link to a folder is never entered: files under it would be read from outside
        the folder, or twice; a finding says so rather than skipping them silently."""
        try:
            inside = (root / link).resolve().is_relative_to(root.resolve())
        except (OSError, RuntimeError):  # a loop of links
            inside = False
        why = "is not followed" if inside else "leads outside the folder and is not followed"
        return finding(
            Code.INVALID_FILE,
            file_subject(self.id, self.scope, link),
            f"{link}: a link to a folder {why}; the files under it are not read",
            path=link,
            document=None,
            rule=FOLDER_LINK,
            line=None,
        )


FOLDER_LINK = "folder-link"  # the rule of a link to a folder, never entered


class _Walk:
    """Reads files and follows Location targets depth first, reporting loops."""

    def __init__(
        self,
        source: FileSource,
        root: Path,
        previous: Previous,
        previous_findings: dict[str, tuple[Finding, ...]],
        *,
        context: ReadContext,
        remembered: Mapping[str, Mapping[str, Any]],
        listed: Mapping[str, os.stat_result],
        settings: str,
    ) -> None:
        self.source = source
        self.policy = context.emission
        self.settings = settings  # settings_hash of this read's policy and folder
        self.remembered = remembered
        self.listed = listed
        self.references = FolderReferences(root)
        self.targets = FolderTargets(root)
        self.root = root
        self.folder = Folder(root)  # its links resolved once for the read, not once per file
        self.previous = previous
        self.previous_findings = previous_findings
        self.reads: dict[str, _FileRead] = {}
        self.kept: dict[str, tuple[Observation, ...]] = {}
        # Files whose bytes could not be used (refused, not parsing): their previous
        # observations stand, but the part is stored with this read's fingerprint, so a
        # later read of the old bytes parses them again rather than keep these findings.
        self.unusable: set[str] = set()
        # Files kept unloaded from the store: how many observations files.json says they have.
        self.documents: dict[str, int] = {}
        self.location_findings: list[Finding] = []
        self.prefetch: Prefetch | None = None  # files parsed ahead in worker processes

    def to_parse(self, paths: Iterable[str]) -> list[str]:
        """The listed files the walk will read and parse: not remembered as unchanged."""
        remembered = self.remembered
        return [p for p in paths if self._known_digest(p, remembered.get(p)) is None]

    def visit(self, start: str) -> None:
        if start in self.reads:
            return
        stack = [(start, self._edges(start, self._read(start)))]
        on_stack = {start}
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
                continue
            if resolved in self.reads:
                continue  # read already, through the globs or another Location
            stack.append((resolved, self._edges(resolved, self._read(resolved))))
            on_stack.add(resolved)

    def _edges(
        self, path: str, targets: list[LocationTarget]
    ) -> Iterator[tuple[LocationTarget, str, bool]]:
        """Each file a target of ``path`` leads to, resolved when the walk reaches it."""
        for target in targets:
            followed = self._resolve(path, target)
            for resolved in followed.paths:
                yield target, resolved, followed.glob

    def _read(self, path: str) -> list[LocationTarget]:
        """Read and parse one file; return the Location targets it contributes."""
        entry = self.remembered.get(path)
        known = self._known_digest(path, entry)
        if entry is not None and known is not None and self._unchanged(path, entry, known):
            return self._keep(path, entry, known)
        source = self.source
        fetched = self.prefetch.take(path) if self.prefetch is not None else None
        if isinstance(fetched, Parsed):
            return self._parsed(path, entry, known, fetched.digest, fetched.parsed)
        if fetched is None:
            data = self.folder.read(path, max_bytes=self.policy.max_file_bytes)
        else:
            data = fetched  # refused
        if isinstance(data, PathRefusal):  # outside the folder, a FIFO, too large: never read
            self.reads[path] = _FileRead(
                digest=f"refused:{data.rule}",
                parsed=None,
                findings=(
                    finding(
                        Code.INVALID_FILE,
                        file_subject(source.id, source.scope, path),
                        f"{path}: the file is not read: it {data.reason}",
                        path=path,
                        document=None,
                        rule=data.rule.value,
                        line=None,
                    ),
                ),
            )
            self.kept[path] = self.previous.get(path, ())
            self.unusable.add(path)
            return observation_targets(self.kept[path])
        digest = hashlib.sha256(data).hexdigest()
        if entry is not None and digest != known and self._unchanged(path, entry, digest):
            return self._keep(path, entry, digest)
        parsed = parse_descriptor_file(
            data,
            source=source.id,
            scope=source.scope,
            path=path,
            policy=self.policy,
            references=self.references,
        )
        del data  # only the parsed documents are kept while the rest is read
        return self._parsed(path, None, None, digest, parsed)

    def _parsed(
        self,
        path: str,
        entry: Mapping[str, Any] | None,
        known: str | None,
        digest: str,
        parsed: ParsedDescriptor,
    ) -> list[LocationTarget]:
        """Take what the file's bytes parsed to (``entry`` and ``known``: when the
        bytes were parsed before their digest was compared with the remembered one)."""
        if entry is not None and digest != known and self._unchanged(path, entry, digest):
            return self._keep(path, entry, digest)
        prefix = _prefix(self.source.id, digest)
        self.reads[path] = _FileRead(
            digest,
            parsed,
            parsed.located_findings(prefix),
            ignored=parsed.ignored,
            dependencies=parsed.dependencies,
        )
        if not parsed.ok and self.previous.get(path):
            self.kept[path] = self.previous.get(path)
            self.unusable.add(path)
            return observation_targets(self.kept[path])
        # the previous observations matter only to an invalid document's (loaded then only:
        # after a policy change every file is parsed again, and most are valid)
        kept = self.previous.get(path, ()) if holds_invalid(parsed.findings) else ()
        return followed_targets(parsed, kept)

    def _known_digest(self, path: str, entry: Mapping[str, Any] | None) -> str | None:
        """The remembered digest when the listing found the file exactly as remembered.

        Only a plain regular file (``lstat``, so not a link) found by the listing,
        whose ``lstat`` is the one remembered with that digest: its bytes are then
        those hashed last time, and it lies in the folder as the listing walked it.
        """
        listed = self.listed.get(path)
        if entry is None or listed is None or not stat.S_ISREG(listed.st_mode):
            return None
        remembered = entry.get("stat")
        digest = entry.get("digest")
        if remembered != stat_key(listed) or not isinstance(digest, str):
            return None
        return digest

    def _keep(self, path: str, entry: Mapping[str, Any], digest: str) -> list[LocationTarget]:
        """The same bytes and references as last time: no parsing, the same
        observations and findings."""
        dependencies = tuple((str(p), v) for p, v in entry["dependencies"])
        self.reads[path] = _FileRead(
            digest,
            None,
            self.previous_findings.get(path, ()),
            ignored=int(entry["ignored"]),
            dependencies=dependencies,
        )
        if self.previous.fingerprint(path) is None:
            self.kept[path] = self.previous.get(path, ())
        else:  # loaded only when needed: the store keeps them
            self.kept[path] = ()
            self.documents[path] = int(entry["documents"])
        return self.previous.kept_targets(path)

    def _unchanged(self, path: str, entry: Mapping[str, Any], digest: str) -> bool:
        """The file, and every file its placeholders read, are as they were parsed last time.

        ``entry`` (files.json) says what the parse depended on; the previous read
        must be that parse: the same bytes, a fingerprint naming the same settings
        and, for a stored part, the same referenced versions (files.json is written
        when a read ends, the store only when its commit lands).
        """
        marker = _prefix(self.source.id, digest) + ":"
        if entry.get("digest") != digest:
            return False
        if not self.previous.unchanged(path, digest, marker, entry.get("documents")):
            return False
        if not self.previous.settled(path, self.settings):
            return False
        dependencies = [(str(p), v) for p, v in entry["dependencies"]]
        if not self.previous.matches(path, dependencies):
            return False
        max_bytes = self.policy.max_placeholder_bytes
        return all(self.references.read(p, max_bytes).version == v for p, v in dependencies)

    def _resolve(self, path: str, target: LocationTarget) -> Followed:
        """The files the target leads to (relative to the root), after reporting what not."""
        if target.type not in _FOLLOWED_TYPES:
            self._problem(
                path,
                target,
                f"has type {target.type!r}, which a file source does not follow",
                severity=Severity.INFO,
            )
            return Followed()
        if "://" in target.target:
            self._problem(path, target, "is a URL, which a file source does not follow")
            return Followed()
        followed = self.targets.follow(path, target.target)
        if followed.missing and target.optional:
            return followed  # ``spec.presence: optional``: not there yet is no problem
        for reason in followed.problems:
            self._problem(path, target, reason)
        return followed

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


def _trusted_stat(status: os.stat_result | None, digest: str, started_ns: int) -> list[int] | None:
    """The lstat to remember with ``digest``, or None when it may not stand for the bytes."""
    return None if digest.startswith("refused:") else trusted_stat(status, started_ns)


def _prefix(source_id: str, digest: str) -> str:
    """The locator prefix of one file's documents: the source and the file's content hash."""
    return f"{source_id}@{digest[:12]}"


def _findings_by_path(snapshot: Snapshot | None) -> dict[str, tuple[Finding, ...]]:
    """The previous read's findings about each file (Location findings are recomputed)."""
    grouped: dict[str, list[Finding]] = {}
    for f in snapshot.findings if snapshot is not None else ():
        path = f.evidence.get("path")
        if isinstance(path, str) and f.evidence.get("rule") != LOCATION_TARGET:
            grouped.setdefault(path, []).append(f)
    return {path: tuple(items) for path, items in grouped.items()}


def _version(reads: dict[str, _FileRead]) -> str:
    """A short hash over every file read and its content."""
    digest = hashlib.sha256()
    for path in sorted(reads):
        digest.update(f"{path}\0{reads[path].digest}\n".encode())
    return digest.hexdigest()[:12]


_STATE_FORMAT = 1


def _load_state(path: Path | None, settings: Mapping[str, object]) -> dict[str, dict[str, Any]]:
    """What the last read remembered of each file; nothing when it had other ``settings``
    (format, emission policy, folder)."""
    data = load_memo(path)
    if any(data.get(key) != value for key, value in settings.items()):
        return {}
    if not isinstance(data.get("files"), dict):
        return {}
    return {str(k): v for k, v in data["files"].items() if isinstance(v, dict)}


def _save_state(
    path: Path,
    settings: Mapping[str, object],
    files: dict[str, dict[str, Any]],
    remembered: Mapping[str, Mapping[str, Any]],
) -> None:
    """Write the state atomically, unless it is the ``remembered`` one; a failure only
    costs parsing next time."""
    save_memo(path, {**settings, "files": files}, {**settings, "files": remembered})
