"""The ``kubernetes`` source in ``snapshot:`` mode: clusters read from ``kubectl`` exports.

Built by its plugin from a :class:`~trueup.sources.kubernetes.config.KubernetesSourceConfig` whose
``snapshot`` is a path or a glob (made absolute by the config loader). Each
match is one scope (one cluster), named after it without its extension:

- a file holding the output of ``kubectl get -o json`` (a ``List``, or a single
  object);
- a folder: every ``*.json`` file directly inside it, merged.

When the pattern is a glob, only folders and ``*.json`` files are matches (a
README next to the exports is not a cluster). A scope whose files cannot be read
or are not a JSON List is a :class:`ScopeFailure` naming the file and the
position of the error; it replaces nothing. A scope read before that the pattern
no longer matches (its export was deleted) is read as an empty snapshot, so the
removal guard holds its entities until the removal is accepted; only a pattern
that matches nothing on the first read is a failure (likely a wrong path). The
observations of a scope are as old as the export: their ``observed_at`` is the
newest modification time of its files, so an old export turns stale after
``max_age``. The objects are turned into observations by
:mod:`trueup.sources.kubernetes.collectors` (Crossplane kinds are found through
the XRDs and CRDs in the export) and by the source's declarative ``mappings``.
"""

from __future__ import annotations

import glob
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from trueup.errors import ConfigError
from trueup.model.observation import FailureKind, Nature, ScopeFailure, ScopeRead, Snapshot
from trueup.sources.base import ReadContext
from trueup.sources.kubernetes.collectors import collect
from trueup.sources.kubernetes.config import KubernetesSourceConfig
from trueup.sources.kubernetes.mappings import compile_mappings


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

    @property
    def id(self) -> str:
        return self.config.id

    def observe(self, context: ReadContext) -> Iterator[ScopeRead]:
        def wanted(scope: str) -> bool:
            return context.scopes is None or scope in context.scopes

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
                yield self._read_scope(context, scope, paths)
        for scope in sorted(set(context.previous) - set(matches)):
            if wanted(scope):  # its export is gone: an empty read, which the removal guard holds
                yield self._vanished(context, scope)

    def _vanished(self, context: ReadContext, scope: str) -> Snapshot:
        return Snapshot(
            source=self.id,
            scope=scope,
            nature=Nature.ACTUAL,
            read_at=context.now(),
            observations=(),
            version="vanished",
        )

    def _read_scope(self, context: ReadContext, scope: str, paths: Sequence[Path]) -> ScopeRead:
        if len(paths) > 1:
            named = ", ".join(str(p) for p in paths)
            return ScopeFailure(
                self.id,
                scope,
                FailureKind.INVALID,
                f"{named} would all be the scope {scope!r}; rename all but one",
                context.now(),
            )
        export = read_export(paths[0])
        if isinstance(export, ExportError):
            return ScopeFailure(self.id, scope, export.kind, export.message, context.now())
        collected = collect(
            export.objects,
            source=self.id,
            scope=scope,
            observed_at=export.modified_at,
            groups=self.config.collect,
            mappings=self.mappings,
        )
        return Snapshot(
            source=self.id,
            scope=scope,
            nature=Nature.ACTUAL,
            read_at=context.now(),
            observations=collected.observations,
            version=export.version,
        )


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


def scope_name(path: Path) -> str:
    """A file's name without its extension; a folder's name."""
    return path.name if path.is_dir() else path.stem


def read_export(path: Path) -> Export | ExportError:
    """Read one export file, or every ``*.json`` file of an export folder."""
    if path.is_dir():
        files = sorted(p for p in path.glob("*.json") if p.is_file())
        if not files:
            return ExportError(FailureKind.INVALID, f"the folder {path} holds no *.json file")
    else:
        files = [path]
    objects: list[object] = []
    versions: list[str] = []
    digest = hashlib.sha256()
    newest: float | None = None
    for file in files:
        try:
            data = file.read_bytes()
            modified = file.stat().st_mtime
        except OSError as exc:
            kind = FailureKind.UNREACHABLE if path.is_dir() else FailureKind.INVALID
            return ExportError(kind, f"{file}: cannot be read: {exc.strerror}")
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
        version = metadata["resourceVersion"]
    if not kind.endswith("List"):
        return [document], ""
    items = document.get("items")
    if not isinstance(items, list):
        return ExportError(FailureKind.INVALID, f"{name}: a {kind} without an 'items' list")
    return items, version
