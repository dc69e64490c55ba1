"""Running a batch function over many batches in forked worker processes, in order.

A cold sync assembles every entity of the world, and assembling and encoding
is pure Python work that one process runs on one core. :func:`ordered_map`
hands the batches to worker processes forked from this one, so that they
inherit everything the function needs (the policy, the observations read in
this commit) without copying it, and yields their results in the order of
the batches, so what is written does not depend on which worker was faster.
The caller keeps the database to itself: it prepares each batch and writes
each result, in its own thread, while the workers compute. A job must not
touch the database (a connection is not to be used across a fork).

Only what crosses between processes is pickled: a batch's inputs (row ids and
rows read from the database) and its results (encoded rows, mostly strings).
A worker that dies makes the map raise
:class:`~concurrent.futures.process.BrokenProcessPool`; nothing waits forever.

Why ``fork`` and not ``spawn``, though forked workers end up copying most of
the heap (README, ``assembly_workers``): a spawned worker inherits nothing, so
each batch must carry its observations and findings, pickled. Measured on a
100,000-entity cold sync, 2 cores, 2 spawned workers: 91 s against 89 s for
one process, 37 s more CPU, summed PSS 1,155 MiB. Pickling the inputs and
unpickling the results took about 11.5 s of the committing process's time (in
the pool's threads, holding the GIL), and that process, whose own work (reading,
storing observations, writing entities) is most of a cold sync, then shared
two cores with two workers. Assembly is about 30 % of a cold sync's CPU; taking
it elsewhere only pays when its inputs do not cross as Python objects.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")
In_contra = TypeVar("In_contra", contravariant=True)
Out_co = TypeVar("Out_co", covariant=True)


class Job(Protocol[In_contra, Out_co]):
    def __call__(self, item: In_contra, /) -> Out_co: ...

    def forked(self) -> None:
        """Called once in each worker process before its first item."""


_JOB: list[Job[Any, Any]] = []  # the job of the pool that is running (the workers' copy)


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def ordered_map(job: Job[In, Out], items: Iterable[In], workers: int) -> Iterator[Out]:
    """``job`` applied to each item, results in the items' order.

    With more than one worker (and where processes can be forked) the job runs
    in that many forked processes; one item more than there are workers is
    queued, so each has the next at hand while the caller takes a result.
    ``items`` is consumed in the caller's thread, as the results are taken.
    """
    if workers <= 1 or not can_fork():
        yield from map(job, items)
        return
    if _JOB:
        raise RuntimeError("ordered_map does not nest")
    _JOB.append(job)  # forked with the workers, at the first submit
    pending: deque[Future[Out]] = deque()
    pool = None
    try:
        pool = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("fork"), initializer=_started
        )
        for item in items:
            pending.append(pool.submit(_call, item))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)  # those not started never run
        _JOB.clear()


def _started() -> None:
    # What this process inherited is never traversed by its collections (nor are
    # the pages it shares with its parent written to for their bookkeeping).
    gc.freeze()
    _JOB[0].forked()


def _call(item: Any) -> Any:
    return _JOB[0](item)
