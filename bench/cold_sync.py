"""Time one cold ``trueup sync`` of a generated world: ``python bench/cold_sync.py --entities N``.

Writes a scaled world (``trueup.world.write_scaled_world``, seed 1) into a fresh
temporary folder, or copies one given with ``--world DIR`` (written by
``bench/world_gen.py``) so generation stays out of repeated runs, then runs
``trueup sync`` on it as its own process and prints its wall time and peak RSS
(max RSS from ``wait4``) and CPU time, with the sync's own start-to-commit time from its run
record, and where that time went, as the record says (``trueup.timings``: each
source's read, the commit's applying and assembling, each sink). With assembly
workers (``assembly_workers`` in ``trueup.yaml``) the peak RSS is the largest of the
processes', and each counts the pages it shares with the others; so the
sum of their proportional set sizes (PSS: a shared page counted once in all) is sampled
too, every 0.2 s, and its peak printed. ``--profile FILE`` runs the sync under cProfile and
writes the stats there (the wall time then includes the profiler's overhead).

``--database URL`` (a PostgreSQL server) runs it on a fresh database made there
(see ``bench/run.py``) instead of SQLite.

``--instructions`` runs it under valgrind's callgrind instead and prints the
instructions it executed (with ``PYTHONHASHSEED=0``): on a shared machine whose
wall and CPU times vary by a third between identical runs, this count moves by
well under 1%, so it tells a 5% change from noise. It is about 50 times slower:
use a small world (``--entities 2000``). Needs ``valgrind`` on the PATH.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from trueup.world import write_scaled_world

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/run.py, beside it

from bench.run import (
    Databases,
    compiled,
    filesystem_note,
    last_run,
    world_database,
)


def main() -> int:
    compiled()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--world", type=Path, help="a world written by bench/world_gen.py")
    parser.add_argument("--profile", type=Path, help="write cProfile stats here")
    parser.add_argument("--keep", action="store_true", help="keep the synced world")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions under callgrind"
    )
    parser.add_argument(
        "--database",
        help="a PostgreSQL server's URL: the world gets a fresh database there (default: SQLite)",
    )
    args = parser.parse_args()
    if args.instructions and shutil.which("valgrind") is None:
        parser.error("--instructions needs valgrind (apt-get install valgrind)")
    root = Path(tempfile.mkdtemp(prefix="trueup-cold-"))
    if (note := filesystem_note(root)) is not None:
        print(note, file=sys.stderr)
    world = root / "world"
    if args.world is not None:
        shutil.copytree(args.world, world)
        label = str(args.world)
    else:
        write_scaled_world(world, entities=args.entities)
        label = f"{args.entities} entities"
    config = world / "trueup.yaml"
    databases = Databases(args.database) if args.database else None
    if databases is not None:
        label += f", PostgreSQL database {databases.point(config)}"
    command = [sys.executable]
    env = None
    if args.instructions:
        callgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
        command = [*callgrind, sys.executable]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
    if args.profile is not None:
        command += ["-m", "cProfile", "-o", str(args.profile.resolve())]
        command += ["-m", "trueup", "sync", "-c", str(config)]
    else:
        command += ["-m", "trueup", "sync", "-c", str(config)]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    started = time.perf_counter()
    with open(os.devnull, "w") as sink:
        errors = subprocess.PIPE if args.instructions else None
        proc = subprocess.Popen(command, stdout=sink, stderr=errors, env=env, text=True)
        pss = PssSampler(proc.pid)
        report = proc.stderr.read() if proc.stderr is not None else ""
        _, status, usage = os.wait4(proc.pid, 0)
        pss.stop()
    elapsed = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime  # less sensitive to other work on the machine
    run = last_run(world_database(config))
    committed = run.seconds if run is not None else None
    done = f", done after {committed:.2f} s" if committed is not None else ""
    print(
        f"cold sync ({label}): {elapsed:.2f} s wall, {cpu:.2f} s CPU,"
        f" peak RSS {usage.ru_maxrss / 1024:.1f} MiB, peak PSS of its processes"
        f" {pss.peak / 1024:.1f} MiB, exit {code}{done} (load before {load})"
    )
    if run is not None and run.steps is not None:
        print(f"steps: {run.steps}")
    if args.instructions:
        found = re.search(r"Collected : (\d+)", report)
        counted = f"{int(found.group(1)):,}" if found else "not reported (see valgrind's output)"
        print(f"instructions executed: {counted}")
    if args.keep:
        print(f"world kept in {world}")  # and its PostgreSQL database, named above
    else:
        shutil.rmtree(root, ignore_errors=True)
        if databases is not None:
            databases.drop()
    return 0 if code in (0, 2, 3) else 1


class PssSampler:
    """The peak of the summed PSS of a process and its descendants (Linux), sampled."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0  # KiB
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(0.2):
            self.peak = max(self.peak, sum(_pss(pid) for pid in _tree(self.pid)))


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
