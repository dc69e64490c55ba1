"""The ``kubernetes`` source in ``snapshot:`` mode: clusters read from ``kubectl`` exports.

Built by its plugin from a :class:`~trueup.sources.kubernetes.config.KubernetesSourceConfig` whose
``snapshot`` is a path or a glob (made absolute by the config loader). Each
match is one scope (one cluster), named after it without its extension:

- a file holding the output of ``kubectl get -o json`` (a ``List``, or a single
  object);
- a folder: every ``*.json`` file directly inside it, merged.

When the pattern is a glob, only folders and ``*.json`` files are matches (a
README next to the exports is not a cluster). Files are read through
:mod:`trueup.path_policy`: a match that leads outside the glob's folder through
a symbolic link, or that is a FIFO, socket or device, fails its scope naming
the file, and nothing of it is read. A name that is not UTF-8 cannot be stored:
such an export file fails its scope (named with those bytes shown ``\\xff``), such
a file of an export folder is left out with an ``invalid-file`` finding
(:func:`misnamed_exports`). A scope whose files cannot be read
or are not a JSON List is a :class:`ScopeFailure` naming the file and the
position of the error; it replaces nothing. A scope read before that the pattern
no longer matches (its export was deleted) is read as an empty snapshot, so the
removal guard holds its entities until the removal is accepted; only a pattern
that matches nothing on the first read is a failure (likely a wrong path). The
observations of a scope are as old as the export: their ``observed_at`` is the
newest modification time of its files, so an old export turns stale after
``max_age``. An export whose files (names, modification times and bytes) are
those the stored snapshot (``previous.stored``) was read from, with the same ``collect`` and
``mappings`` (:func:`settings_digest`), is not parsed again: the snapshot keeps its stored
observations (``kept={""}``, fingerprint in ``parts``). The
objects are turned into observations by
:mod:`trueup.sources.kubernetes.collectors` (Crossplane kinds are found through
the XRDs and CRDs in the export) and by the source's declarative ``mappings``;
an object refused for a NUL character or a lone surrogate keeps its observation of
the export read before, if it had one (:mod:`~trueup.sources.kubernetes.refused`).
An export file over 16 MB is read item by item
(:mod:`~trueup.sources.kubernetes.export_stream`), never loaded whole.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trueup.errors import ConfigError
from trueup.model import observation
from trueup.model.finding import Finding
from trueup.model.observation import (
    FailureKind,
    Nature,
    Observation,
    ScopeFailure,
    ScopeRead,
    Snapshot,
    misnamed_file,
    show_path,
    show_unstorable,
    unstorable_rule,
)
from trueup.path_policy import Refusal, Rule, check_under, read_file, read_under
from trueup.sources.base import ReadContext
from trueup.sources.kubernetes.collectors import (
    COLLECTED_KINDS,
    collect,
    collect_items,
    defines_roles,
    roles_of,
)
from trueup.sources.kubernetes.config import KubernetesSourceConfig
from trueup.sources.kubernetes.export_stream import ListHead, NotAStreamableList, list_items
from trueup.sources.kubernetes.mappings import CompiledMapping, compile_mappings
from trueup.sources.kubernetes.objects import as_map
from trueup.sources.kubernetes.refused import without_unstorable_keeping
from trueup.sources.lstat_memo import load_memo, save_memo, stat_key, trusted_stat

MAX_EXPORT_BYTES = 1024 * 1024 * 1024  # one export file; a larger one is refused


@dataclass(frozen=True, slots=True)
class Export:
    """The objects of one scope's files, how old they are and what version they are."""

    objects: tuple[object, ...]
    modified_at: datetime
    version: str


@dataclass(frozen=True, slots=True)
class ExportError:
    """Why a scope's files are not a usable export."""

    kind: FailureKind
    message: str


class KubernetesSnapshotSource:
    """Reads ``kubectl get -o json`` exports; one scope per matching file or folder."""

    nature = Nature.ACTUAL

    def __init__(self, config: KubernetesSourceConfig) -> None:
        if not config.snapshot:
            raise ConfigError(f"source {config.id!r}: snapshot mode needs the 'snapshot' key")
        self.config = config
        self.pattern = config.snapshot
        self.mappings = compile_mappings(config.mappings, config.id)
        self.settings = settings_digest(config)

    @property
    def id(self) -> str:
        return self.config.id

    def observe(self, context: ReadContext) -> Iterator[ScopeRead]:
        def wanted(scope: str) -> bool:
            return context.scopes is None or scope in context.scopes

        started_ns = time.time_ns()  # the file system's clock, not the (testable) run clock
        memo_path = context.data_dir / "exports.json" if context.data_dir is not None else None
        loaded = load_memo(memo_path)
        memo = dict(loaded)
        matches = find_exports(self.pattern)
        if not matches and not context.previous:  # nothing was ever read: likely a wrong path
            if wanted(self.id):
                yield ScopeFailure(
                    self.id,
                    self.id,
                    FailureKind.UNREACHABLE,
                    f"no export file or folder matches {self.pattern}",
                    context.now(),
                )
            return
        for scope, paths in sorted(matches.items()):
            if wanted(scope):
                yield self._read_scope(context, scope, paths, memo, started_ns)
        exported = {str(p) for paths in matches.values() for p in paths}
        kept = {
            name: value
            for name, value in memo.items()
            if name in exported or str(Path(name).parent) in exported
        }
        save_memo(memo_path, kept, loaded)
        for scope in sorted(set(context.previous) - set(matches)):
            if wanted(scope):  # its export is gone: an empty read, which the removal guard holds
                yield self._vanished(context, scope)

    def _streamed(self, path: Path, scope: str) -> tuple[tuple[Observation, ...], str] | None:
        if not path.is_file() or path.stat().st_size <= STREAM_BYTES:
            return None
        found = streamed_export(
            path, source=self.id, scope=scope, groups=self.config.collect, mappings=self.mappings
        )
        if found is None or not found[1]:  # no resourceVersion: the version is the content hash
            return None
        return found

    def _vanished(self, context: ReadContext, scope: str) -> Snapshot:
        return Snapshot(
            source=self.id,
            scope=scope,
            nature=Nature.ACTUAL,
            read_at=context.now(),
            observations=(),
            version="vanished",
        )

    def _read_scope(
        self,
        context: ReadContext,
        scope: str,
        paths: Sequence[Path],
        memo: dict[str, Any],
        started_ns: int,
    ) -> ScopeRead:
        if unstorable_rule(scope) is not None:  # bytes that are no UTF-8: no store takes it
            return ScopeFailure(
                self.id,
                show_path(scope),
                FailureKind.INVALID,
                f"{show_path(str(paths[0]))}: its name is not UTF-8 text (a byte that is not is "
                "shown as \\xNN), which cannot be stored as a scope; it is not read",
                context.now(),
            )
        if len(paths) > 1:
            named = ", ".join(str(p) for p in paths)
            return ScopeFailure(
                self.id,
                scope,
                FailureKind.INVALID,
                f"{named} would all be the scope {scope!r}; rename all but one",
                context.now(),
            )
        root = export_root(self.pattern)
        refused = export_refusal(paths[0], root)
        if refused is not None:  # checked before anything opens it: a FIFO would block
            return ScopeFailure(self.id, scope, refused.kind, refused.message, context.now())
        files = export_fingerprint(paths[0], memo, started_ns)
        if isinstance(files, ExportError):
            return ScopeFailure(self.id, scope, files.kind, files.message, context.now())
        fingerprint = f"{files} settings:{self.settings}"  # other settings: parsed again
        before = context.previous.get(scope)
        if before is not None and before.stored and before.parts.get(WHOLE) == fingerprint:
            return Snapshot(
                source=self.id,
                scope=scope,
                nature=Nature.ACTUAL,
                read_at=context.now(),
                observations=(),
                findings=before.findings,  # about the same objects (a refused NUL)
                version=before.version,
                parts={WHOLE: fingerprint},
                kept=frozenset({WHOLE}),
            )
        streamed = self._streamed(paths[0], scope)
        if streamed is not None:
            found, version = streamed
        else:
            export = read_export(paths[0], root)
            if isinstance(export, ExportError):
                return ScopeFailure(self.id, scope, export.kind, export.message, context.now())
            found = collect(
                export.objects,
                source=self.id,
                scope=scope,
                observed_at=export.modified_at,
                groups=self.config.collect,
                mappings=self.mappings,
            ).observations
            version = export.version
        # an object refused (a NUL, a surrogate) keeps its observation of the export read before
        observations, unstored = without_unstorable_keeping(
            self.id, scope, found, lambda: before.observations if before is not None else ()
        )
        unstored += misnamed_exports(self.id, scope, paths[0])
        return Snapshot(
            source=self.id,
            scope=scope,
            nature=Nature.ACTUAL,
            read_at=context.now(),
            observations=tuple(observations),
            findings=tuple(unstored),
            version=version,
            parts={WHOLE: fingerprint},
        )


WHOLE = ""  # the part of a scope's observations that have no part of their own
_CHUNK = 1 << 20


def settings_digest(config: KubernetesSourceConfig) -> str:
    """A short hash of the settings that shape what an export yields: ``collect``, ``mappings``.

    Part of an export's fingerprint, so that after either changed in the configuration an
    export found as it was is parsed again, not kept as the old settings collected it;
    likewise after an upgrade that changed how trueup collects (``READ_RULES``).
    """
    shaping = {
        "read_rules": observation.READ_RULES,  # trueup's collectors changed: read again
        "collect": sorted(set(config.collect)),
        "mappings": [m.model_dump(mode="json") for m in config.mappings],
    }
    text = json.dumps(shaping, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def export_fingerprint(
    path: Path, memo: dict[str, Any] | None = None, started_ns: int = 0
) -> str | ExportError:
    """A hash over an export's file names, modification times and bytes (read in chunks).

    ``memo`` (file → its lstat and digest, :mod:`trueup.sources.lstat_memo`) spares
    hashing a file found as it was; files hashed now are remembered in it when
    they were written well before ``started_ns``.
    """
    files = sorted(p for p in path.glob("*.json") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        try:
            status = file.lstat()
            known = memo.get(str(file)) if memo is not None else None
            if isinstance(known, dict) and known.get("stat") == stat_key(status):
                file_digest = str(known["digest"])
            else:
                file_digest = _file_digest(file)
                trusted = trusted_stat(status, started_ns)
                if memo is not None and trusted is not None:
                    memo[str(file)] = {"stat": trusted, "digest": file_digest}
        except OSError as exc:
            kind = FailureKind.UNREACHABLE if path.is_dir() else FailureKind.INVALID
            return ExportError(kind, f"{show_path(str(file))}: cannot be read: {exc.strerror}")
        # fsencode: the bytes of a name that is not UTF-8 too (its file is not read)
        digest.update(os.fsencode(file.name) + f"\0{status.st_mtime_ns}\0{file_digest}\n".encode())
    return digest.hexdigest()


def _file_digest(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


STREAM_BYTES = 16 << 20  # larger export files are read item by item


def streamed_export(
    path: Path,
    *,
    source: str,
    scope: str,
    groups: Iterable[str],
    mappings: Sequence[CompiledMapping],
) -> tuple[tuple[Observation, ...], str] | None:
    """A large List export collected item by item: (observations, version).

    Read once (:func:`_collected_once`), and a second time only when a definition
    in it claims a kind the built-in collectors take. None when the file is not a
    well-formed List: the caller reads it whole, for the error.
    """
    try:
        modified_at = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        head = ListHead()
        observations, definitions = _collected_once(
            map(as_map, list_items(path, head)),
            source=source,
            scope=scope,
            observed_at=modified_at,
            groups=groups,
            mappings=mappings,
        )
        kind = head.values.get("kind")
        if not isinstance(kind, str) or not kind.endswith("List"):
            return None
        if observations is None:  # collected again, with the roles known from the start
            observations = collect_items(
                map(as_map, list_items(path, ListHead())),
                roles_of(definitions, groups),
                source=source,
                scope=scope,
                observed_at=modified_at,
                groups=groups,
                mappings=mappings,
            ).observations
    except (NotAStreamableList, OSError):
        return None
    metadata = head.values.get("metadata")
    version = ""
    if isinstance(metadata, Mapping) and isinstance(metadata.get("resourceVersion"), str):
        version = show_unstorable(metadata["resourceVersion"])  # stored: no NUL, no surrogate
    return tuple(observations), version


def _collected_once(
    objects: Iterator[Mapping[str, object]],
    *,
    source: str,
    scope: str,
    observed_at: datetime,
    groups: Iterable[str],
    mappings: Sequence[CompiledMapping],
) -> tuple[Sequence[Observation] | None, list[Mapping[str, object]]]:
    """The observations of ``objects`` in their order, and the objects that define roles.

    An object of a kind the built-in collectors take is collected as it comes;
    any other waits, in its place, for the roles that all of those define
    (Crossplane's XRDs and CRDs may come anywhere in the file). The observations
    are None when a definition claims a built-in kind: those collected as they came
    may then have had the wrong role.
    """
    observations: list[Observation] = []
    waiting: list[tuple[int, Mapping[str, object]]] = []  # (where its observations go, object)
    while True:
        stopped: list[Mapping[str, object]] = []
        early = collect_items(
            _up_to_definition(objects, stopped),
            COLLECTED_KINDS,
            source=source,
            scope=scope,
            observed_at=observed_at,
            groups=groups,
            mappings=mappings,
        )
        observations.extend(early.observations)
        if not stopped:
            break
        waiting.append((len(observations), stopped[0]))
    definitions = [obj for _, obj in waiting]
    roles = roles_of(definitions, groups)
    if any(roles[key] is not role for key, role in COLLECTED_KINDS.items()):
        return None, definitions
    if not waiting:
        return observations, definitions
    merged: list[Observation] = []
    done = 0
    for at, obj in waiting:
        merged += observations[done:at]
        merged += collect_items(
            (obj,),
            roles,
            source=source,
            scope=scope,
            observed_at=observed_at,
            groups=groups,
            mappings=mappings,
        ).observations
        done = at
    merged += observations[done:]
    return merged, definitions


def _up_to_definition(
    objects: Iterator[Mapping[str, object]], stopped: list[Mapping[str, object]]
) -> Iterator[Mapping[str, object]]:
    """The objects of built-in kinds before the next that defines roles (put in ``stopped``)."""
    for obj in objects:
        if defines_roles(obj):
            stopped.append(obj)
            return
        yield obj


def find_exports(pattern: str) -> dict[str, list[Path]]:
    """The matches of the pattern grouped by scope name (more than one is a clash)."""
    if glob.has_magic(pattern):
        found = [
            Path(match)
            for match in sorted(glob.glob(pattern))
            if Path(match).is_dir() or match.endswith(".json")
        ]
    else:
        found = [Path(pattern)] if Path(pattern).exists() else []
    scopes: dict[str, list[Path]] = {}
    for path in found:
        scopes.setdefault(scope_name(path), []).append(path)
    return scopes


def export_root(pattern: str) -> Path | None:
    """The folder a glob's matches must stay under (its part before the first wildcard)."""
    if not glob.has_magic(pattern):
        return None  # a path named in the configuration: read as named
    fixed = pattern[: min(pattern.find(c) for c in "*?[" if c in pattern)]
    return Path(fixed[: fixed.rfind("/") + 1] or ".")


def scope_name(path: Path) -> str:
    """A file's name without its extension; a folder's name."""
    return path.name if path.is_dir() else path.stem


def export_refusal(path: Path, root: Path | None) -> ExportError | None:
    """Why the path policy refuses an export (or a file of an export folder), or None.

    The fingerprint and the streamed read open files directly, so they ask first.
    """
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    base = root or (path if path.is_dir() else None)
    for file in files:
        if base is None:
            found = read_file(file, max_bytes=0) if not file.is_file() else None
            refused = found if isinstance(found, Refusal) else None
        else:
            refused = check_under(base, os.path.relpath(file, base))
        if refused is not None:
            unreadable = refused.rule in (Rule.UNREADABLE, Rule.FORBIDDEN)
            kind = FailureKind.UNREACHABLE if unreadable else FailureKind.INVALID
            return ExportError(kind, f"{show_path(str(file))}: not read: it {refused.reason}")
    return None


def misnamed_exports(source: str, scope: str, path: Path) -> list[Finding]:
    """A finding for each file of an export folder that is not read for its name (not UTF-8)."""
    names = sorted(p.name for p in path.glob("*.json")) if path.is_dir() else []
    holder = f"the export folder {show_path(str(path))}"
    subject = f"scope:{source}/{scope}"
    return [misnamed_file(subject, n, holder) for n in names if unstorable_rule(n) is not None]


def read_export(path: Path, root: Path | None = None) -> Export | ExportError:
    """Read one export file, or every ``*.json`` file of an export folder.

    Files are read through :mod:`trueup.path_policy`: under ``root`` (a glob's
    fixed folder; the export folder itself when it was named), regular files
    only, at most :data:`MAX_EXPORT_BYTES` each.
    """
    base: Path | None
    if path.is_dir():
        base = root or path
        files = sorted(
            p
            for p in path.glob("*.json")
            if (not p.is_dir() or p.is_symlink()) and unstorable_rule(p.name) is None
        )
        if not files:
            return ExportError(FailureKind.INVALID, f"the folder {path} holds no *.json file")
    else:
        base, files = root, [path]
    objects: list[object] = []
    versions: list[str] = []
    digest = hashlib.sha256()
    newest: float | None = None
    for file in files:
        if base is None:
            data = read_file(file, max_bytes=MAX_EXPORT_BYTES)
        else:
            data = read_under(base, os.path.relpath(file, base), max_bytes=MAX_EXPORT_BYTES)
        if isinstance(data, Refusal):
            unreadable = data.rule in (Rule.UNREADABLE, Rule.FORBIDDEN)
            kind = FailureKind.UNREACHABLE if unreadable else FailureKind.INVALID
            return ExportError(kind, f"{file}: not read: it {data.reason}")
        try:
            modified = file.stat().st_mtime
        except OSError as exc:
            return ExportError(FailureKind.UNREACHABLE, f"{file}: cannot be read: {exc.strerror}")
        parsed = parse_export(data, str(file))
        if isinstance(parsed, ExportError):
            return parsed
        items, version = parsed
        objects.extend(items)
        versions.append(version)
        digest.update(f"{file.name}\0".encode() + data)
        newest = modified if newest is None else max(newest, modified)
    assert newest is not None  # files is never empty here
    single_version = versions[0] if len(versions) == 1 else ""
    return Export(
        objects=tuple(objects),
        modified_at=datetime.fromtimestamp(newest, tz=UTC),
        version=single_version or digest.hexdigest()[:12],
    )


def parse_export(data: bytes, name: str) -> tuple[list[object], str] | ExportError:
    """The items and ``metadata.resourceVersion`` of a List (or one object) as JSON bytes."""
    try:
        document: object = json.loads(data)
    except json.JSONDecodeError as exc:
        return ExportError(
            FailureKind.INVALID,
            f"{name}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            f" (char {exc.pos})",
        )
    except UnicodeDecodeError as exc:
        return ExportError(FailureKind.INVALID, f"{name}: not UTF-8 text (byte {exc.start})")
    except RecursionError:
        return ExportError(FailureKind.INVALID, f"{name}: JSON nested too deeply")
    if not isinstance(document, Mapping) or not isinstance(document.get("kind"), str):
        return ExportError(
            FailureKind.INVALID, f"{name}: not a Kubernetes List or object (no 'kind')"
        )
    kind: str = document["kind"]
    metadata = document.get("metadata")
    version = ""
    if isinstance(metadata, Mapping) and isinstance(metadata.get("resourceVersion"), str):
        version = show_unstorable(metadata["resourceVersion"])  # stored: no NUL, no surrogate
    if not kind.endswith("List"):
        return [document], ""
    items = document.get("items")
    if not isinstance(items, list):
        return ExportError(FailureKind.INVALID, f"{name}: a {kind} without an 'items' list")
    return items, version
