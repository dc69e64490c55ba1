"""Writing a full pass's files in the sync's worker processes while the rows are read.

A cold full pass writes a file per entity (100,000), and reading the rows (the
store's feed rows, through the gate and the masking) is Python work on the
sync's thread, as is each write's own Python. When the sync has forked worker
processes (:func:`~trueup.parallel.early_worker_count`), :func:`write_files`
hands them batches of (relative path, text) as the rows are read (results in
order, one batch more than there are workers waiting), so memory does not grow
with the world; else it writes each file itself, in order. Measured with
``bench/directory_sink.py`` on a 100,000-entity store (2 cores): 10.0-11.4 s
alone; 4.6-5.7 s with two workers, the syncing process spending 3.3-4.4 s of
CPU. A writer thread in the syncing process saved 0.6-0.9 s only (the GIL
serialises the Python around each write): not kept.

What the caller relies on stays as with one thread writing in order: every
file is replaced atomically (:func:`replace_file`); when :func:`write_files`
returns, every file has landed and no write runs any more; when one failed, it
raises that failure (the first in the files' order, the same exception a write
on the calling thread raised) once no write runs any more, so the folder's
lock is not released under a write. Files after a failed one may have landed
too (a worker was already writing them): the caller's pending mark says the
folder is unfinished, whatever they are.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from trueup.parallel import early_worker_count, ordered_map

BATCH = 500  # files handed to a writer at once (about half a megabyte of YAML)

Batch = list[tuple[str, str]]  # (path relative to the folder, text)


def replace_file(target: Path, text: str) -> None:
    """Write ``text`` beside ``target``, then rename it over ``target`` (atomic).

    With ``os`` calls rather than a text file object: a full pass writes a file
    per entity, and the file object's set-up cost more than the write itself.
    """
    folder, name = os.path.split(target)
    tmp = os.path.join(folder, f".{name}.tmp")
    data = memoryview(text.encode())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)
    os.replace(tmp, target)


def write_batch(root: Path, batch: Iterable[tuple[str, str]]) -> int:
    """Write each file of ``batch`` under ``root`` in order, its folder made first;
    how many were written."""
    folders: set[str] = set()  # one mkdir per folder and batch, not per file
    count = 0
    for relative, text in batch:
        target = root / relative
        folder = relative.rpartition("/")[0]
        if folder not in folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            folders.add(folder)
        replace_file(target, text)
        count += 1
    return count


def write_files(root: Path, files: Iterable[tuple[str, str]]) -> int:
    """Write every (relative path, text) of ``files`` under ``root``; how many were written.

    ``files`` is read on the calling thread, while workers write earlier files when
    there are (see the module docstring). Raises the first failure, once no write
    runs any more.
    """
    workers = early_worker_count()
    if workers <= 1:  # each file written as it is read, as the rows come
        return write_batch(root, files)
    return _in_workers(root, _batches(files), workers)


def _batches(files: Iterable[tuple[str, str]]) -> Iterator[Batch]:
    iterator = iter(files)
    while batch := list(islice(iterator, BATCH)):
        yield batch


@dataclass(frozen=True, slots=True)
class _WriteJob:
    """A worker process's part (:func:`~trueup.parallel.ordered_map`): one batch, written.

    Its failure comes back as the result rather than raised, so that the map is
    not cut short while the other worker may still be writing.
    """

    root: Path

    def forked(self) -> None:
        pass

    def __call__(self, batch: Batch) -> int | Exception:
        """How many files were written, or the failure."""
        try:
            return write_batch(self.root, batch)
        except Exception as exc:  # returned, raised by the caller in the files' order
            return exc


def _in_workers(root: Path, batches: Iterator[Batch], workers: int) -> int:
    failed: list[BaseException] = []
    given = _Until(batches, failed)
    count = 0
    for result in ordered_map(_WriteJob(root), given, workers):
        if isinstance(result, Exception):
            if not failed:
                failed.append(result)
        else:
            count += result
    _raise_first(failed, given.stopped)
    return count


class _Until:
    """``batches`` until a write has failed; what reading them raised is kept in
    ``stopped``, for the caller to raise once every write has ended."""

    def __init__(self, batches: Iterator[Batch], failed: list[BaseException]) -> None:
        self.batches = batches
        self.failed = failed
        self.stopped: BaseException | None = None

    def __iter__(self) -> Iterator[Batch]:
        try:
            for batch in self.batches:
                if self.failed:
                    return
                yield batch
        except BaseException as exc:
            self.stopped = exc


def _raise_first(failed: list[BaseException], stopped: BaseException | None) -> None:
    """A write's failure comes before reading's: its file came before the row that failed."""
    if failed:
        raise failed[0]
    if stopped is not None:
        raise stopped
