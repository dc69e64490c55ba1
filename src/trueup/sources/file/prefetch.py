"""Files of a folder parsed ahead of the walk, in the sync's worker processes.

A cold read of a large folder parses every file, one after another, on one core:
most of the file source's time. When the sync has forked workers
(``assembly_workers`` above 1, :func:`trueup.parallel.early_worker_count`) and
the folder has many files to parse, :class:`Prefetch` hands them to the workers
in chunks, in the listing's order (:func:`trueup.parallel.ordered_map`), and the
walk takes each file's result when it reaches it: its bytes' digest and what
they parsed to, or why the file was not read. What the walk decides from them
is what it decides from a file it reads itself.

A worker reads each file through :class:`~trueup.path_policy.Folder` and parses
it with :func:`~trueup.sources.descriptors.parse_descriptor_file`, as the walk
does; the files its placeholders read, it reads through its own
:class:`~trueup.sources.file.references.FolderReferences` (each parse records
their versions, so a reference that changed during the read is parsed again
next time). Only paths and results cross between processes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from trueup.model.emission import EmissionPolicy
from trueup.parallel import early_worker_count, ordered_map
from trueup.path_policy import Folder
from trueup.path_policy import Refusal as PathRefusal
from trueup.sources.descriptors import ParsedDescriptor, parse_descriptor_file
from trueup.sources.file.references import FolderReferences

# Below this many files to parse, the walk parses them itself (a warm read, a small folder).
MIN_FILES = 200
CHUNK = 25  # files per item handed to a worker


@dataclass(frozen=True, slots=True)
class Parsed:
    """One file as a worker read it: its content hash and what its bytes parsed to."""

    digest: str
    parsed: ParsedDescriptor


Fetched = Parsed | PathRefusal


@dataclass
class _ParseJob:
    """Reads and parses a chunk of files; made in the walk's process, run in a worker."""

    root: Path
    source: str
    scope: str
    policy: EmissionPolicy
    _folder: Folder | None = field(default=None, repr=False)  # made in the worker
    _references: FolderReferences | None = field(default=None, repr=False)

    def forked(self) -> None:
        self._folder = Folder(self.root)
        self._references = FolderReferences(self.root)

    def __call__(self, paths: Sequence[str]) -> list[tuple[str, Fetched]]:
        if self._folder is None:
            self.forked()
        assert self._folder is not None
        done: list[tuple[str, Fetched]] = []
        for path in paths:
            data = self._folder.read(path, max_bytes=self.policy.max_file_bytes)
            if isinstance(data, PathRefusal):
                done.append((path, data))
                continue
            parsed = parse_descriptor_file(
                data,
                source=self.source,
                scope=self.scope,
                path=path,
                policy=self.policy,
                references=self._references,
            )
            done.append((path, Parsed(hashlib.sha256(data).hexdigest(), parsed)))
        return done


class Prefetch:
    """The results of the files handed to the workers, taken by the walk by path."""

    def __init__(
        self, root: Path, source: str, scope: str, policy: EmissionPolicy, paths: Sequence[str]
    ) -> None:
        self._pending = set(paths)
        self._ready: dict[str, Fetched] = {}
        self._results: Iterator[list[tuple[str, Fetched]]] | None = None
        workers = early_worker_count()
        if workers > 1 and len(paths) >= MIN_FILES:
            job = _ParseJob(root, source, scope, policy)
            chunks = (paths[i : i + CHUNK] for i in range(0, len(paths), CHUNK))
            self._results = ordered_map(job, chunks, workers)
        else:
            self._pending.clear()

    def take(self, path: str) -> Fetched | None:
        """The file's result, or None when it was not handed out (the walk reads it)."""
        if path not in self._pending:
            return None
        assert self._results is not None
        while path not in self._ready:
            self._ready.update(next(self._results))
        self._pending.discard(path)
        return self._ready.pop(path)

    def close(self) -> None:
        """Stop the workers' remaining chunks (a walk that ended early)."""
        if self._results is not None:
            self._results.close()  # type: ignore[attr-defined]
            self._results = None
        self._pending.clear()
        self._ready.clear()
