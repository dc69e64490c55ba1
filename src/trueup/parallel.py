"""Running a batch function over many batches in forked worker processes, in order.

A cold sync parses every file and assembles every entity of the world, pure
Python work that one process runs on one core. :func:`ordered_map`
hands the batches to worker processes and yields their results in the order of
the batches, so what is written does not depend on which worker was faster.
The caller keeps the database to itself: it prepares each batch and writes
each result, in its own thread, while the workers compute. A job must not
touch the database (a connection is not to be used across a fork).

Where the workers come from. A sync forks them at its start, inside
:func:`early_workers`, while the process is small (its configuration and
code, not yet the world it reads); a map run inside (the file source parsing a
folder's files, :mod:`trueup.sources.file.prefetch`; the commit assembling its
batches, :mod:`trueup.store.assembly`; the directory sink writing its files,
:mod:`trueup.sinks.directory.files`) sends them its job once,
pickled into a file they each read, and each batch as it goes. A worker forked
in the middle of a commit would share the pages of everything the sync holds
(the reads, the observations of the world) and copy most of them as it ran:
each object a process reads has its reference count written, and each object
it makes fills a free slot of a page it shares. Measured on a 100,000-entity
cold sync with two workers, the processes' summed PSS (a shared page counted
once in all): 1,954 MiB with workers forked mid-commit that read the commit's
observations; 1,236 MiB with the observations sent as JSON text
(:mod:`trueup.store.assembly`); 1,128 MiB forked early too; 942 MiB with
batches of 500 refs. The sync alone peaks at about 810 MiB.
A job that cannot be pickled (a check plugin's own objects, say) still runs:
its workers are forked at its first batch and inherit it.

Only what crosses between processes is pickled: a batch's inputs (file paths;
rows read from the database, payloads as their JSON text; a sink's file texts)
and its results (parsed files, encoded rows: mostly strings). A worker that dies
makes the map raise :class:`~concurrent.futures.process.BrokenProcessPool`;
nothing waits forever.

Why not ``spawn``: a spawned worker imports everything again (about a second),
and a map then pays that in every sync; forked at the sync's start, a worker
costs a few milliseconds and shares the code already loaded.
"""

from __future__ import annotations

import contextvars
import gc
import multiprocessing
import os
import pickle
import tempfile
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")
In_contra = TypeVar("In_contra", contravariant=True)
Out_co = TypeVar("Out_co", covariant=True)


class Job(Protocol[In_contra, Out_co]):
    def __call__(self, item: In_contra, /) -> Out_co: ...

    def forked(self) -> None:
        """Called once in each worker process before its first item."""


_JOB: list[Job[Any, Any]] = []  # the job of the map that is running (a late worker's copy)
_EARLY: contextvars.ContextVar[_Early | None] = contextvars.ContextVar("early", default=None)
# In an early worker: the job of the map that is running, by the map's name.
_SENT: dict[str, Job[Any, Any]] = {}


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


class _Early:
    """Workers forked at a sync's start, waiting for the maps of its commit."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("fork"), initializer=_started_early
        )
        # With fork, the first submit starts every worker: now, while this process is small.
        self.pool.submit(int).result()

    def usable(self, workers: int) -> bool:
        return workers <= self.workers and not getattr(self.pool, "_broken", False)


@contextmanager
def early_workers(workers: int) -> Iterator[None]:
    """Fork ``workers`` processes now, for the maps run inside with as many or fewer."""
    if workers <= 1 or not can_fork():
        yield
        return
    early = _Early(workers)
    token = _EARLY.set(early)
    try:
        yield
    finally:
        _EARLY.reset(token)
        early.pool.shutdown(wait=True, cancel_futures=True)


def early_worker_count() -> int:
    """How many workers :func:`early_workers` forked for the running sync, or 1 when none
    are at hand (none forked, or broken): a caller that would not fork workers of its
    own asks this before spreading its work over them."""
    early = _EARLY.get()
    if early is None or not early.usable(early.workers):
        return 1
    return early.workers


def ordered_map(job: Job[In, Out], items: Iterable[In], workers: int) -> Iterator[Out]:
    """``job`` applied to each item, results in the items' order.

    With more than one worker (and where processes can be forked) the job runs
    in that many worker processes: those of :func:`early_workers` when it is
    running and the job can be pickled, else processes forked now. One item more
    than there are workers is queued, so each has the next at hand while the
    caller takes a result. ``items`` is consumed in the caller's thread, as the
    results are taken. Maps on early workers may run at once (a server's syncs
    run side by side in threads, each with its own workers); a map that forks its
    own workers does not nest in another of those.
    """
    if workers <= 1 or not can_fork():
        yield from map(job, items)
        return
    early = _EARLY.get()
    sent = _send(job) if early is not None and early.usable(workers) else None
    if sent is None:  # late workers, forked with the job at the first submit
        if _JOB:
            raise RuntimeError("ordered_map does not nest")
        _JOB.append(job)
    pending: deque[Future[Out]] = deque()
    pool = None
    try:
        if early is not None and sent is not None:
            submit = _early_submit(early.pool, sent)
        else:
            pool = ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("fork"), initializer=_started
            )
            submit = _late_submit(pool)
        for item in items:
            pending.append(submit(item))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()  # those not started never run
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if sent is not None:
            os.unlink(sent[0])
        else:
            _JOB.clear()


def _early_submit(pool: ProcessPoolExecutor, sent: tuple[str, str]) -> Callable[[Any], Future[Any]]:
    return lambda item: pool.submit(_call_sent, sent, item)


def _late_submit(pool: ProcessPoolExecutor) -> Callable[[Any], Future[Any]]:
    return lambda item: pool.submit(_call, item)


def _send(job: Job[Any, Any]) -> tuple[str, str] | None:
    """A file holding ``job`` pickled (readable by this user alone) and a name for this
    map, or None when the job cannot be pickled."""
    try:
        data = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return None
    fd, path = tempfile.mkstemp(prefix="trueup-job-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path, uuid.uuid4().hex


def _started_early() -> None:
    # What this process inherited (configuration and code) is never traversed by
    # its collections, nor are the pages it shares written to for their bookkeeping.
    gc.freeze()


def _call_sent(sent: tuple[str, str], item: Any) -> Any:
    path, name = sent
    job = _SENT.get(name)
    if job is None:
        _SENT.clear()  # an earlier map's job
        with open(path, "rb") as handle:
            job = _SENT[name] = pickle.load(handle)
        job.forked()
    return job(item)


def _started() -> None:
    gc.freeze()
    _JOB[0].forked()


def _call(item: Any) -> Any:
    return _JOB[0](item)
