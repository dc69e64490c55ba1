"""Writing a full pass's files while the rows are still being read.

A cold full pass writes a file per entity (100,000), and reading the rows (the
store's feed rows, through the gate and the masking) is Python work on the
sync's thread, while writing them is mostly file system calls that release the
GIL. :func:`write_files` lets the two overlap: the thread that reads the rows
hands batches of (relative path, text) to the sync's worker processes when it
has forked them (:func:`~trueup.parallel.early_worker_count`, results in
order), else to one writer thread. A bounded number of batches waits at a
time, so memory does not grow with the world. Measured with
``bench/directory_sink.py`` on a 100,000-entity store (a shared 2-core machine,
medians of alternated passes): about 11 s in one thread, 9.5 s with the writer
thread (the GIL still serialises the Python around each write), 9 s with two
workers, where the syncing process itself spends about 4 s of CPU instead of 9.5.

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
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from trueup.parallel import early_worker_count, ordered_map

BATCH = 500  # files handed to a writer at once (about half a megabyte of YAML)
WAITING = 2  # batches waiting for the writer thread, at most

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


def write_batch(root: Path, batch: Batch) -> None:
    """Write each file of ``batch`` under ``root`` in order, its folder made first."""
    folders: set[str] = set()  # one mkdir per folder and batch, not per file
    for relative, text in batch:
        target = root / relative
        folder = relative.rpartition("/")[0]
        if folder not in folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            folders.add(folder)
        replace_file(target, text)


def write_files(root: Path, files: Iterable[tuple[str, str]]) -> int:
    """Write every (relative path, text) of ``files`` under ``root``; how many were written.

    ``files`` is read on the calling thread while earlier files are written (see
    the module docstring). Raises the first failure, once no write runs any more.
    """
    count = 0

    def counted() -> Iterator[Batch]:
        nonlocal count
        iterator = iter(files)
        while batch := list(islice(iterator, BATCH)):
            count += len(batch)
            yield batch

    workers = early_worker_count()
    if workers > 1:
        _in_workers(root, counted(), workers)
    else:
        _in_thread(root, counted())
    return count


@dataclass(frozen=True, slots=True)
class _WriteJob:
    """A worker process's part (:func:`~trueup.parallel.ordered_map`): one batch, written.

    Its failure comes back as the result rather than raised, so that the map is
    not cut short while the other worker may still be writing.
    """

    root: Path

    def forked(self) -> None:
        pass

    def __call__(self, batch: Batch) -> Exception | None:
        try:
            write_batch(self.root, batch)
        except Exception as exc:  # returned, raised by the caller in the files' order
            return exc
        return None


def _in_workers(root: Path, batches: Iterator[Batch], workers: int) -> None:
    failed: list[BaseException] = []
    given = _Until(batches, failed)
    for result in ordered_map(_WriteJob(root), given, workers):
        if result is not None and not failed:
            failed.append(result)
    _raise_first(failed, given.stopped)


def _in_thread(root: Path, batches: Iterator[Batch]) -> None:
    failed: list[BaseException] = []
    waiting: queue.Queue[Batch | None] = queue.Queue(WAITING)

    def run() -> None:
        while (batch := waiting.get()) is not None:
            if failed:
                continue  # drained, so that the reading thread never waits on a full queue
            try:
                write_batch(root, batch)
            except BaseException as exc:  # raised by the reading thread
                failed.append(exc)

    writer = threading.Thread(target=run, name="directory sink writer")
    writer.start()
    given = _Until(batches, failed)
    try:
        for batch in given:
            waiting.put(batch)
    finally:
        waiting.put(None)
        writer.join()
    _raise_first(failed, given.stopped)


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
