"""The ``directory`` sink: one YAML file per entity, ``<namespace>/<kind>/<name>.yaml``.

Called by the pipeline after a commit, through the :class:`~trueup.sinks.base.Sink`
protocol (:class:`DirectorySink`). Cost grows with change: a manifest
(``.trueup-manifest.json``) remembers the content hash of every file written,
so an unchanged entity is not rewritten (the volatile ``trueup.io/observed-at``
annotation alone is not a change, as for revisions). Each file is replaced
atomically (written beside it, then renamed); files of entities that left are
deleted; a missing or edited file is rewritten.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from trueup.feed import FeedRow
from trueup.sinks.base import Publication, SinkReport
from trueup.sinks.directory.config import DirectorySinkConfig

MANIFEST = ".trueup-manifest.json"


@dataclass(frozen=True, slots=True)
class DirectoryReport:
    written: int
    unchanged: int
    deleted: int


def relative_path(row: FeedRow) -> str:
    ref = row.ref
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
    _replace(manifest_path, json.dumps(after, sort_keys=True, indent=0))
    return DirectoryReport(written, unchanged, deleted)


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
        report = write_directory(Path(self.config.path), publication.rows())
        return SinkReport(
            sink=self.name,
            written=report.written,
            unchanged=report.unchanged,
            removed=report.deleted,
        )
