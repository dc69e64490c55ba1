"""``parallel.ordered_map``: batches in forked workers, results in order."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Generator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import cast

import pytest

from trueup.parallel import can_fork, early_workers, ordered_map

pytestmark = pytest.mark.skipif(not can_fork(), reason="needs os.fork")


class Square:
    """Squares an item, later ones faster, and says which process did it."""

    def __init__(self) -> None:
        self.in_worker = False
        self.parent = os.getpid()

    def __call__(self, item: int) -> tuple[int, int, bool]:
        time.sleep(0.002 * (10 - item % 10))  # the first batches finish last
        return item * item, os.getpid(), self.in_worker

    def forked(self) -> None:
        self.in_worker = True


def test_results_come_in_the_order_of_the_items_from_forked_workers() -> None:
    job = Square()
    results = list(ordered_map(job, range(40), workers=2))
    assert [square for square, _, _ in results] == [n * n for n in range(40)]
    pids = {pid for _, pid, _ in results}
    assert len(pids) == 2 and os.getpid() not in pids
    assert all(in_worker for _, _, in_worker in results)
    assert not job.in_worker  # forked() ran in the workers only


def test_one_worker_runs_the_job_in_this_process() -> None:
    results = list(ordered_map(Square(), range(5), workers=1))
    assert [square for square, _, _ in results] == [0, 1, 4, 9, 16]
    assert {pid for _, pid, _ in results} == {os.getpid()}


def test_items_are_taken_as_results_are_taken_not_all_at_once() -> None:
    taken: list[int] = []

    def items() -> object:
        for n in range(20):
            taken.append(n)
            yield n

    results = ordered_map(Square(), items(), workers=2)  # type: ignore[arg-type]
    assert next(results)[0] == 0
    assert len(taken) == 3  # two workers, one item queued
    assert [r[0] for r in results] == [n * n for n in range(1, 20)]


class Fails:
    def __call__(self, item: int) -> int:
        if item == 3:
            raise ValueError(f"item {item} is bad")
        return item

    def forked(self) -> None:
        pass


def test_an_error_in_a_worker_reaches_the_caller_with_its_message() -> None:
    with pytest.raises(ValueError, match="item 3 is bad"):
        list(ordered_map(Fails(), range(10), workers=2))


class Dies:
    def __call__(self, item: int) -> int:
        if item == 2:
            os._exit(9)
        return item

    def forked(self) -> None:
        pass


def test_a_worker_that_dies_breaks_the_map_instead_of_hanging_it() -> None:
    with pytest.raises(BrokenProcessPool):
        list(ordered_map(Dies(), range(10), workers=2))


def test_maps_do_not_nest_but_follow_one_another() -> None:
    # A generator (typed as the Iterator it is used as): closing it ends the map.
    outer = cast(Generator[tuple[int, int, bool]], ordered_map(Square(), range(3), workers=2))
    next(outer)
    with pytest.raises(RuntimeError, match="does not nest"):
        next(ordered_map(Square(), range(3), workers=2))
    outer.close()
    assert [r[0] for r in ordered_map(Square(), range(3), workers=2)] == [0, 1, 4]


def test_maps_on_early_workers_run_at_once_in_two_threads() -> None:
    """A server runs syncs side by side in threads, each with its own early workers;
    a map in one (a file source's parsing) must not refuse a map in the other."""
    results: dict[int, list[int]] = {}
    inside = threading.Barrier(2)

    def sync(offset: int) -> None:
        with early_workers(2):
            mapped = ordered_map(Square(), range(offset, offset + 8), workers=2)
            first = next(mapped)[0]
            inside.wait(timeout=30)  # both maps are running now
            results[offset] = [first, *(r[0] for r in mapped)]

    threads = [threading.Thread(target=sync, args=(offset,)) for offset in (0, 100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == {o: [n * n for n in range(o, o + 8)] for o in (0, 100)}


def test_early_workers_run_every_map_inside_them_and_are_forked_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a map's job is sent
    with early_workers(2):
        first = list(ordered_map(Square(), range(12), workers=2))
        second = list(ordered_map(Square(), range(12, 20), workers=2))
    assert list(tmp_path.iterdir()) == []  # each map's file is gone with it
    assert [r[0] for r in first + second] == [n * n for n in range(20)]
    assert all(in_worker for _, _, in_worker in first + second)  # forked() ran there
    pids = {pid for _, pid, _ in first}
    assert len(pids) == 2 and os.getpid() not in pids
    assert {pid for _, pid, _ in second} == pids  # the same two processes, not new ones


class Closure:
    """A job that cannot be pickled (it holds a lambda): it is forked with its workers."""

    def __init__(self) -> None:
        self.double: Callable[[int], int] = lambda n: 2 * n
        self.in_worker = False

    def __call__(self, item: int) -> tuple[int, bool]:
        return self.double(item), self.in_worker

    def forked(self) -> None:
        self.in_worker = True


def test_a_job_that_cannot_be_pickled_still_runs_in_workers_of_its_own() -> None:
    with early_workers(2):
        results = list(ordered_map(Closure(), range(6), workers=2))
    assert results == [(2 * n, True) for n in range(6)]


class Offset(Square):
    def __call__(self, item: int) -> tuple[int, int, bool]:
        return item + 100, os.getpid(), self.in_worker


def test_the_job_of_an_early_map_does_not_reach_the_next_one() -> None:
    with early_workers(2):
        assert [r[0] for r in ordered_map(Offset(), range(4), workers=2)] == [100, 101, 102, 103]
        assert [r[0] for r in ordered_map(Square(), range(4), workers=2)] == [0, 1, 4, 9]


def test_after_an_early_worker_dies_the_next_map_forks_its_own() -> None:
    with early_workers(2):
        with pytest.raises(BrokenProcessPool):
            list(ordered_map(Dies(), range(10), workers=2))
        assert [r[0] for r in ordered_map(Square(), range(5), workers=2)] == [0, 1, 4, 9, 16]


def test_a_map_with_more_workers_than_were_forked_early_forks_its_own() -> None:
    with early_workers(2):
        results = list(ordered_map(Square(), range(9), workers=3))
    assert [r[0] for r in results] == [n * n for n in range(9)]
    assert len({pid for _, pid, _ in results}) == 3
