"""Where one sync's reads and writes go, statement by statement: ``python bench/sync_io.py``.

Runs ``trueup sync`` in this process on a copy of a world (``--world DIR``, written by
``bench/world_gen.py``) or a generated one (``--entities N``, default 100,000), with a
hook on every statement the store executes and every commit. The hook reads the
calling thread's system call counts (``syscr`` and ``syscw`` of
``/proc/thread-self/io``, Linux only): the calls made from one mark to the next are
counted with the first. So a SELECT's include fetching its rows, and a commit's
include writing its pages and whatever the sync does before its next statement
(after the run's first, small commit: reading the sources). The calls before the
first statement (start-up) and those of other threads (the checkpoint's) are left
out; the process's totals are printed too.

It counts system calls, not time: on a shared machine whose wall times vary by a
third between identical runs, these counts stay the same, so they show what a
change to a query or an index did. Each SQLite page read from the database or its
log is one ``pread64``; a page written to the log is two ``pwrite64``. Measured on
a cold sync of 100,000 entities (bench/world_gen.py): before migration 0010 listing
the refs with intent cost 250,421 reads and looking intent up by ref 253,510; with
it, 3,339 and 3,885.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from trueup.cli import main as trueup
from trueup.world import write_scaled_world

IO = "/proc/thread-self/io"


def _calls(path: str = IO) -> tuple[int, int]:
    """(read calls, write calls) made so far by the calling thread (or process)."""
    counts = dict(line.split(":") for line in Path(path).read_text().splitlines())
    return int(counts["syscr"]), int(counts["syscw"])


class Ledger:
    """System calls per statement head, for the thread that runs the sync."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.by_head: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        self.open: tuple[tuple[int, int], str] | None = None

    def mark(self, head: str) -> None:
        if threading.get_ident() != self.thread:
            return
        now = _calls()
        if self.open is not None:
            (reads, writes), before = self.open
            entry = self.by_head[before]
            entry[0] += now[0] - reads
            entry[1] += now[1] - writes
            entry[2] += 1
        self.open = (now, head)


def _head(statement: str) -> str:
    return " ".join(statement.split()[:6])[:72]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--world", type=Path, help="a world written by bench/world_gen.py")
    parser.add_argument("--top", type=int, default=20, help="statements shown")
    args = parser.parse_args()
    if not Path(IO).exists():
        parser.error(f"{IO} is missing: this benchmark needs Linux")
    root = Path(tempfile.mkdtemp(prefix="trueup-io-"))
    world = root / "world"
    if args.world is not None:
        shutil.copytree(args.world, world)
    else:
        write_scaled_world(world, entities=args.entities)
    ledger = Ledger()

    @event.listens_for(Engine, "before_cursor_execute")
    def _statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        ledger.mark(_head(statement))

    @event.listens_for(Engine, "commit")
    def _commit(_conn: Any) -> None:
        ledger.mark("COMMIT (and what runs until the next statement)")

    start = _calls("/proc/self/io")
    sys.argv = ["trueup", "sync", "-c", str(world / "trueup.yaml")]
    try:
        trueup()
    except SystemExit as exit_:
        if exit_.code not in (None, 0):
            print(f"trueup sync exited {exit_.code}", file=sys.stderr)
            return 1
    finally:
        ledger.mark("(end)")
        shutil.rmtree(root, ignore_errors=True)
    end = _calls("/proc/self/io")
    print(f"\nthe process: {end[0] - start[0]:,} read calls, {end[1] - start[1]:,} write calls")
    print(f"{'reads':>10} {'writes':>10} {'runs':>6}  statement (the syncing thread)")
    ranked = sorted(ledger.by_head.items(), key=lambda item: -(item[1][0] + item[1][1]))
    for head, (reads, writes, runs) in ranked[: args.top]:
        print(f"{reads:>10,} {writes:>10,} {runs:>6}  {head}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
