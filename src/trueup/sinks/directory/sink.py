"""The ``directory`` sink: one YAML file per entity, ``<namespace>/<kind>/<name>.yaml``.

Called by the pipeline after a commit, through the :class:`~trueup.sinks.base.Sink`
protocol (:class:`DirectorySink`). Cost grows with change: a manifest
(``.trueup-manifest.json``) remembers the content hash of every file written,
so an unchanged entity is not rewritten (the volatile ``trueup.io/observed-at``
annotation alone is not a change, as for revisions). Each file is replaced
atomically (written beside it, then renamed); files of entities that left are
deleted; a missing file is rewritten by a full pass (:func:`write_directory`).

When the publication knows which entities the commit revised
(``Publication.revised``, an incremental commit), only their files are
rewritten (:func:`update_directory`): the other files stand, so a sync that
changed nothing costs no pass over every entity. Without a manifest (a first
run, a folder emptied by hand) it declines and the full pass runs instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from trueup.feed import FeedRow
from trueup.model.ref import EntityRef
from trueup.sinks.base import Publication, SinkReport
from trueup.sinks.directory.config import DirectorySinkConfig

MANIFEST = ".trueup-manifest.json"


@dataclass(frozen=True, slots=True)
class DirectoryReport:
    written: int
    unchanged: int
    deleted: int


def relative_path(row: FeedRow) -> str:
    return _relative(row.ref)


def _relative(ref: EntityRef) -> str:
    return f"{ref.namespace}/{ref.kind}/{ref.name}.yaml"


def write_directory(path: Path, rows: Iterable[FeedRow]) -> DirectoryReport:
    """Bring the folder in line with the emitted entities; report what was done."""
    path.mkdir(parents=True, exist_ok=True)
    manifest_path = path / MANIFEST
    try:
        before: dict[str, str] = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        before = {}
    after: dict[str, str] = {}
    written = unchanged = 0
    for row in rows:
        relative = relative_path(row)
        digest = row.content_hash
        after[relative] = digest
        target = path / relative
        if before.get(relative) == digest and target.exists():
            unchanged += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        _replace(target, row.yaml)
        written += 1
    deleted = 0
    for relative in before.keys() - after.keys():
        try:
            (path / relative).unlink()
            deleted += 1
        except FileNotFoundError:
            pass
    _replace(manifest_path, json.dumps(after, sort_keys=True, separators=(",", ":")))
    return DirectoryReport(written, unchanged, deleted)


def update_directory(
    path: Path, rows: Iterable[FeedRow], changed: Collection[EntityRef]
) -> DirectoryReport | None:
    """Rewrite the files of the ``changed`` entities only; None when there is no manifest.

    ``rows`` are the emitted ones among ``changed``; a changed entity without a
    row (removed, or no longer emitted) loses its file.
    """
    manifest_path = path / MANIFEST
    try:
        manifest: dict[str, str] = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    written = deleted = 0
    kept: set[str] = set()
    for row in rows:
        relative = relative_path(row)
        kept.add(relative)
        if manifest.get(relative) == row.content_hash and (path / relative).exists():
            continue
        target = path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        _replace(target, row.yaml)
        manifest[relative] = row.content_hash
        written += 1
    for ref in changed:
        relative = _relative(ref)
        if relative in kept or relative not in manifest:
            continue
        del manifest[relative]
        try:
            (path / relative).unlink()
            deleted += 1
        except FileNotFoundError:
            pass
    if written or deleted:
        _replace(manifest_path, json.dumps(manifest, sort_keys=True, separators=(",", ":")))
    return DirectoryReport(written, len(changed) - written - deleted, deleted)


def _replace(target: Path, text: str) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)


class DirectorySink:
    """Writes the publication's entities into a folder; see the module docstring."""

    def __init__(self, config: DirectorySinkConfig) -> None:
        self.config = config

    @property
    def name(self) -> str:
        return f"directory sink {self.config.path}"

    def write(self, publication: Publication) -> SinkReport:
        """Bring the folder in line with the publication. OSError when the folder cannot be."""
        path = Path(self.config.path)
        report = None
        revised = publication.revised_rows()
        if revised is not None and publication.revised is not None:
            report = update_directory(path, revised, publication.revised)
        if report is None:
            report = write_directory(path, publication.rows())
        return SinkReport(
            sink=self.name,
            written=report.written,
            unchanged=report.unchanged,
            removed=report.deleted,
        )
