"""Time a cold sync's SQLite writes apart from the rest of it: ``python bench/store_writes.py DB``.

``DB`` is a SQLite store a sync wrote (``bench/cold_sync.py --keep``, or ``trueup sync``
on a world from ``bench/world_gen.py``). Its rows of the tables a cold sync fills are
read into memory once, then inserted into fresh databases in one transaction each,
table by table with ``executemany`` as the sync's commit does (``store/bulk.py``),
under each variant of SQLite's settings given, and the log is copied into the
database file (the checkpoint) afterwards:

    python bench/store_writes.py trueup.db                       # SQLite's defaults
    python bench/store_writes.py trueup.db --cache-kib 16384     # a bulk commit's cache
    python bench/store_writes.py trueup.db --defer-indexes       # indexes built after

A whole cold sync of 100,000 entities moves by up to a third from run to run on a shared
machine, more than any change to its writes; this isolates them (the rows, their
order and the schema are the store's), so a change of settings is seen at its size.
Each variant runs ``--rounds`` times (3), alternating with the others, and the median
is shown. The databases are written beside ``--scratch`` (default: the system's
temporary folder; ``/dev/shm`` keeps the disk out of it).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from collections import defaultdict
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

# The tables a cold sync fills, in the order its commit writes them.
TABLES = (
    "sync_runs",
    "scopes",
    "snapshots",
    "snapshot_parts",
    "observations",
    "observation_terms",
    "entities",
    "entity_terms",
    "revisions",
    "findings",
)


@dataclass(frozen=True)
class Variant:
    page_size: int = 4096
    cache_kib: int = 2000
    defer_indexes: bool = False

    def label(self) -> str:
        deferred = ", indexes after" if self.defer_indexes else ""
        return f"page {self.page_size}, cache {self.cache_kib} KiB{deferred}"


@dataclass
class Store:
    tables: list[str]  # CREATE TABLE statements
    indexes: list[str]  # CREATE INDEX statements (the unique constraints are the tables')
    rows: dict[str, list[tuple[object, ...]]]


def load(path: Path) -> Store:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as source:
        listed = ", ".join(f"'{name}'" for name in TABLES)
        schema = source.execute(
            f"SELECT type, sql FROM sqlite_master WHERE tbl_name IN ({listed}) AND sql IS NOT NULL"
        ).fetchall()
        rows = {name: source.execute(f"SELECT * FROM {name}").fetchall() for name in TABLES}
    return Store(
        tables=[sql for kind, sql in schema if kind == "table"],
        indexes=[sql for kind, sql in schema if kind == "index"],
        rows=rows,
    )


def write(store: Store, variant: Variant, path: Path) -> dict[str, float]:
    """Seconds per table, for the indexes built after, the commit and the checkpoint."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    seconds: dict[str, float] = {}
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute(f"PRAGMA page_size = {variant.page_size}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")  # as the store's connections (store/engine.py)
        db.execute("PRAGMA wal_autocheckpoint = 0")
        db.execute(f"PRAGMA cache_size = -{variant.cache_kib}")
        for sql in store.tables + ([] if variant.defer_indexes else store.indexes):
            db.execute(sql)
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        for name in TABLES:
            rows = store.rows[name]
            if not rows:
                continue
            at = time.perf_counter()
            marks = ", ".join("?" * len(rows[0]))
            db.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)
            seconds[name] = time.perf_counter() - at
        if variant.defer_indexes:
            at = time.perf_counter()
            for sql in store.indexes:
                db.execute(sql)
            seconds["indexes after"] = time.perf_counter() - at
        at = time.perf_counter()
        db.execute("COMMIT")
        seconds["commit"] = time.perf_counter() - at
        seconds["writes in all"] = time.perf_counter() - started
        at = time.perf_counter()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        seconds["checkpoint"] = time.perf_counter() - at
    seconds["file MiB"] = path.stat().st_size / 2**20
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("database", type=Path, help="a SQLite store written by a sync")
    parser.add_argument("--page-size", type=int, action="append", help="a variant's page size")
    parser.add_argument(
        "--cache-kib",
        type=int,
        default=2000,
        help="the page cache of the variants after the first (SQLite's defaults)",
    )
    parser.add_argument(
        "--defer-indexes", action="store_true", help="also each variant with its indexes built last"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    variants = [Variant()]
    for page_size in args.page_size or [4096]:
        variants.append(Variant(page_size, args.cache_kib))
        if args.defer_indexes:
            variants.append(Variant(page_size, args.cache_kib, defer_indexes=True))
    variants = list(dict.fromkeys(variants))
    store = load(args.database)
    counts = ", ".join(f"{name} {len(rows):,}" for name, rows in store.rows.items())
    print(f"rows of {args.database}: {counts}")
    figures: dict[Variant, dict[str, list[float]]] = {v: defaultdict(list) for v in variants}
    with tempfile.TemporaryDirectory(dir=args.scratch) as folder:
        for _ in range(args.rounds):
            for n, variant in enumerate(variants):
                for step, value in write(store, variant, Path(folder) / f"{n}.db").items():
                    figures[variant][step].append(value)
    for variant in variants:
        steps = "  ".join(
            f"{step} {statistics.median(values):.2f}" for step, values in figures[variant].items()
        )
        print(f"{variant.label():<44} {steps}  (s, median of {args.rounds})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
