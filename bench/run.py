"""Benchmarks that print figures (SPEC section 9): ``make bench``.

Each step runs ``trueup`` as its own process, so wall time and peak memory
(max RSS from ``wait4``) are those of one real command. Worlds come from
``trueup.world``. Usage::

    python bench/run.py                     # demo world + 10,000 entities
    python bench/run.py --entities 100000   # the SPEC's 100k target
    python bench/run.py --database postgresql+psycopg://postgres@127.0.0.1:5432/test

With ``--database`` naming a PostgreSQL server (any database on it: the bench only
connects there to make its own), each world gets a fresh database
``trueup_bench_<pid>_<n>``, dropped at the end unless ``--keep``.

For each world: a cold sync, a sync with nothing changed, a sync after one
catalog file changed (``touch_one_file``), the export and the check; then the
nothing-changed sync and the export added up. The steady-state steps (nothing
changed, one file changed, export) run ``--rounds`` times (5) and the median is
shown, with the largest peak memory: single runs on a shared machine vary by a
third. A sync also shows, from its run record, when it was done (its commit
landed and its sinks written), start-up aside; a sync run once (the cold one, or
every sync with ``--rounds 1``) also shows where that time went, from the record's
``seconds`` (``trueup.timings``). The machine's load
average is printed before and after (other work on a shared machine slows every
figure).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from trueup.timings import describe
from trueup.world import ScaledWorld, touch_one_file, write_demo_world, write_scaled_world

TRUEUP = [sys.executable, "-m", "trueup"]


@dataclass
class Measure:
    step: str
    seconds: float
    peak_mib: float
    exit_code: int
    # A sync: from its start to its end (the commit landed, sinks written), as its run
    # record says: the process's start-up and exit aside.
    committed: float | None = None
    rounds: int = 1  # a median of this many runs
    steps: str | None = None  # a sync's steps from its run record (trueup.timings.describe)

    def line(self) -> str:
        commit = f"  done after {self.committed:.2f} s" if self.committed is not None else ""
        median = f"  (median of {self.rounds})" if self.rounds > 1 else ""
        steps = f"\n{'':<6}steps: {self.steps}" if self.steps and self.rounds == 1 else ""
        return (
            f"{self.step:<46} {self.seconds:8.2f} s {self.peak_mib:9.1f} MiB  "
            f"exit {self.exit_code}{commit}{median}{steps}"
        )


_LAST_RUN = "SELECT started_at, finished_at, summary FROM sync_runs ORDER BY id DESC LIMIT 1"


@dataclass(frozen=True)
class LastRun:
    """The last sync run, as its record in the world's database says."""

    seconds: float | None  # from its start to its end; None while it runs
    steps: str | None  # where that time went (trueup.timings.describe); None if not kept


def last_run(database: Path | str) -> LastRun | None:
    """The last sync run's record, read once; None when there is none.

    ``database`` is a SQLite file or a SQLAlchemy URL (a PostgreSQL world).
    """
    if isinstance(database, Path):
        with closing(sqlite3.connect(database)) as conn:
            row = conn.execute(_LAST_RUN).fetchone()
    else:
        import sqlalchemy as sa

        engine = sa.create_engine(database)
        try:
            with engine.connect() as conn:
                row = conn.exec_driver_sql(_LAST_RUN).fetchone()
        finally:
            engine.dispose()
    if row is None:
        return None
    started, finished, summary = row
    seconds = None
    if finished is not None:
        started, finished = (
            value if isinstance(value, datetime) else datetime.fromisoformat(value)
            for value in (started, finished)
        )
        seconds = (finished - started).total_seconds()
    if isinstance(summary, str):
        summary = json.loads(summary)
    kept = summary.get("seconds") if isinstance(summary, dict) else None
    return LastRun(seconds, describe(kept) if kept else None)


def world_database(config: Path) -> Path | str:
    """Where the world of ``config`` keeps its store: its SQLite file, or its database URL."""
    match = re.search(r"^database: (\S+)$", config.read_text(encoding="utf-8"), re.MULTILINE)
    if match is None or match.group(1).startswith("sqlite:"):
        return config.parent / "trueup.db"
    return match.group(1)


def with_commit_time(m: Measure, config: Path) -> Measure:
    """The measure with the last sync run's start-to-finish time, from the world's database."""
    if (run := last_run(world_database(config))) is not None:
        m.committed, m.steps = run.seconds, run.steps
    return m


class Databases:
    """Fresh PostgreSQL databases for the worlds of one bench run, one each.

    ``server`` is a URL of any database on the server; each world's ``trueup.yaml``
    is pointed at a new database made beside it, and ``drop()`` removes them all.
    """

    def __init__(self, server: str) -> None:
        import sqlalchemy as sa

        self._url = sa.make_url(server)
        self._engine = sa.create_engine(self._url, isolation_level="AUTOCOMMIT")
        self._made: list[str] = []

    def create(self) -> str:
        """The URL of a new, empty database on the server."""
        name = f"trueup_bench_{os.getpid()}_{len(self._made)}"
        with self._engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self._made.append(name)
        return self._url.set(database=name).render_as_string(hide_password=False)

    def point(self, config: Path) -> str:
        """Point the world of ``config`` at a new database; its name."""
        url = self.create()
        text = config.read_text(encoding="utf-8")
        config.write_text(
            re.sub(r"^database: .*$", f"database: {url}", text, count=1, flags=re.MULTILINE),
            encoding="utf-8",
        )
        return self._made[-1]

    @property
    def names(self) -> list[str]:
        return list(self._made)

    def drop(self) -> None:
        with self._engine.connect() as conn:
            for name in self._made:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._engine.dispose()


def median_of(measures: list[Measure]) -> Measure:
    """The run of median wall time; peak memory is the largest of them all."""
    ordered = sorted(measures, key=lambda m: m.seconds)
    middle = ordered[len(ordered) // 2]
    return replace(
        middle,
        peak_mib=max(m.peak_mib for m in measures),
        exit_code=max(m.exit_code for m in measures),
        rounds=len(measures),
    )


def measure(step: str, *args: str, quiet: bool = True) -> Measure:
    start = time.perf_counter()
    with open(os.devnull, "w") as sink:
        proc = subprocess.Popen(
            [*TRUEUP, *args], stdout=sink if quiet else None, stderr=subprocess.PIPE
        )
        _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 2, 3):
        sys.stderr.write(stderr)
    return Measure(step, elapsed, usage.ru_maxrss / 1024, code)


def bench_world(
    label: str, config: Path, out: Path, world: ScaledWorld | None, rounds: int
) -> list[Measure]:
    c = str(config)

    def sync(step: str) -> Measure:
        return with_commit_time(measure(f"{label}: {step}", "sync", "-c", c), config)

    steps = [
        sync("sync (cold)"),
        median_of([sync("sync (nothing changed)") for _ in range(rounds)]),
    ]
    if world is not None:
        changed = []
        for round_ in range(rounds):
            touch_one_file(world, len(world.files) // 2 + round_)
            changed.append(sync("sync (one catalog file changed)"))
        steps.append(median_of(changed))
    exported = str(out / f"{label}.yaml")
    return [
        *steps,
        median_of(
            [
                measure(f"{label}: export yaml", "export", "-c", c, "-o", exported)
                for _ in range(rounds)
            ]
        ),
        measure(
            f"{label}: check --format json",
            "check",
            "-c",
            c,
            "--format",
            "json",
            "--fail-on",
            "never",
        ),
    ]


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def filesystem_note(folder: Path) -> str | None:
    """A warning when ``folder`` is on an ext4 file system that has no journal.

    There, making a file soon after many were deleted walks the freed inodes one
    by one (``perf`` shows the time under ext4's ``recently_deleted``), and a sync
    that writes 100,000 sink files can spend tens of seconds more in the kernel. Measured here, same
    code and world: a 100k cold sync took 94 s (37 s of it system time) in a
    folder made again right after the previous world's was deleted from it, and
    75 s (18 s system) in a new folder beside it.
    """
    try:
        device = os.stat(folder).st_dev
        block = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}").resolve().name
        journal = Path(f"/sys/fs/ext4/{block}/journal_task").read_text().strip()
    except OSError:
        return None  # not ext4, or not Linux
    if journal != "<none>":
        return None
    return (
        f"note: {folder} is on ext4 without a journal ({block}): files made within minutes "
        "of deleting many are slow to create there; run with TMPDIR=/dev/shm, or wait, "
        "to keep that out of the figures"
    )


def compiled() -> None:
    """Bytecode for trueup's modules, as an installed trueup has (pip compiles at install).

    An editable install compiles nothing, and where PYTHONDONTWRITEBYTECODE is set
    Python never caches it: every measured command would compile trueup again.
    """
    import compileall

    import trueup

    compileall.compile_dir(Path(trueup.__file__).parent, quiet=1)


def main() -> int:
    compiled()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated worlds")
    parser.add_argument(
        "--rounds", type=int, default=5, help="runs of each steady-state step (median shown)"
    )
    parser.add_argument(
        "--database",
        help="a PostgreSQL server's URL: each world gets a fresh database there (default: SQLite)",
    )
    args = parser.parse_args()
    databases = Databases(args.database) if args.database else None
    load_before = _load()
    root = Path(tempfile.mkdtemp(prefix="trueup-bench-"))
    if (note := filesystem_note(root)) is not None:
        print(note, file=sys.stderr)
    results: list[Measure] = []
    demo = write_demo_world(root / "demo")
    if databases is not None:
        databases.point(demo.config)
    results += bench_world("demo", demo.config, root, None, args.rounds)
    started = time.perf_counter()
    scaled = write_scaled_world(root / "scaled", entities=args.entities)
    generated = time.perf_counter() - started
    if databases is not None:
        databases.point(scaled.config)
    results += bench_world(f"{args.entities} entities", scaled.config, root, scaled, args.rounds)
    print(f"load average before: {load_before}")
    if args.database:
        print(f"store: PostgreSQL ({args.database}), a fresh database per world")
    print(f"world generation ({args.entities} entities): {generated:.2f} s")
    print(f"{'step':<46} {'wall':>10} {'peak RSS':>13}")
    for m in results:
        print(m.line())
    for label in ("demo", f"{args.entities} entities"):
        steady = [
            m
            for m in results
            if m.step in (f"{label}: sync (nothing changed)", f"{label}: export yaml")
        ]
        if len(steady) == 2:
            total = Measure(
                f"{label}: sync (nothing changed) + export",
                sum(m.seconds for m in steady),
                max(m.peak_mib for m in steady),
                max(m.exit_code for m in steady),
            )
            print(total.line())
    print(f"load average after: {_load()}")
    feed = root / f"{args.entities} entities.yaml"
    if feed.exists():
        print(f"feed size ({args.entities} entities): {feed.stat().st_size / 1e6:.1f} MB")
    if not args.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
        if databases is not None:
            databases.drop()
    else:
        print(f"worlds kept in {root}")
        if databases is not None:
            print(f"their PostgreSQL databases kept: {', '.join(databases.names)}")
    return 0 if all(m.exit_code in (0, 2, 3) for m in results) else 1


if __name__ == "__main__":
    sys.exit(main())
