"""Benchmark of one large generated catalog file (issue 7): time and peak memory.

Writes a single multi-document file of 10,000 Components (about 4.5 MB, from
``trueup.world.generated_catalog``) and measures, each step in its own process
so that its peak memory (max RSS from ``wait4``) is its own:

- ``parse``: :func:`parse_descriptor_file` on the file's bytes (parsing and
  validating every document, one at a time);
- ``read``: the ``file`` source reading a folder holding the file;
- ``sync``: ``trueup sync`` of that folder into SQLite (read, assemble, check,
  store, render the feed);
- ``baseline``: the same interpreter importing the same modules and reading
  the bytes without parsing them, to tell what the parse itself costs.

Usage: ``python bench/large_file.py [--entities 10000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from trueup.config import parse_config
from trueup.model.observation import Snapshot
from trueup.pipeline import sync
from trueup.sources.base import ReadContext
from trueup.sources.descriptors import parse_descriptor_file
from trueup.sources.file import FileSource
from trueup.sources.file.config import FileSourceConfig
from trueup.store import Store
from trueup.world.generated_catalog import write_generated_catalog

STEPS = ("baseline", "parse", "read", "sync")


def run_step(step: str, root: Path) -> dict[str, object]:
    """One measured step, in this process; returns what it did."""
    catalog = root / "catalog" / "all.yaml"
    started = time.perf_counter()
    if step == "baseline":
        done: dict[str, object] = {"bytes": len(catalog.read_bytes())}
    elif step == "parse":
        parsed = parse_descriptor_file(
            catalog.read_bytes(), source="catalog", scope="catalog", path="all.yaml"
        )
        done = {"entities": len(parsed.documents), "findings": len(parsed.findings)}
    elif step == "read":
        source = FileSource(FileSourceConfig(id="catalog", type="file", path=str(root / "catalog")))
        (snapshot,) = source.observe(ReadContext(now=lambda: datetime.now(UTC)))
        assert isinstance(snapshot, Snapshot)
        done = {"observations": len(snapshot.observations)}
    else:
        text = (
            f"database: sqlite:///{root / 'bench.db'}\ndata_dir: {root / 'data'}\n"
            f"sources:\n  - {{id: catalog, type: file, path: {root / 'catalog'}}}\n"
        )
        config = parse_config(text, "bench.yaml", {}, root)
        with Store.open(config.database) as store:
            store.upgrade()
            outcome = sync(config, store)
            assert outcome.result is not None
            done = {"entities": len(outcome.result.entities), "exit": outcome.exit_code}
    done["seconds"] = round(time.perf_counter() - started, 2)
    return done


def measure(step: str, root: Path) -> dict[str, object]:
    """Run one step in a child process: its result, wall time and peak RSS."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, __file__, "--step", step, "--root", str(root)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"step {step} failed with status {status}")
    result: dict[str, object] = json.loads(output)
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    result["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--step", choices=STEPS)
    parser.add_argument("--root", type=Path)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(run_step(args.step, args.root)))
        return
    with tempfile.TemporaryDirectory(prefix="trueup-large-file-") as folder:
        root = Path(folder)
        size = write_generated_catalog(root / "catalog" / "all.yaml", args.entities)
        print(f"one file of {args.entities:,} entities, {size / 1e6:.1f} MB")
        print(f"{'step':<10}{'work s':>9}{'wall s':>9}{'peak RSS MiB':>15}  result")
        for step in STEPS:
            result = measure(step, root)
            work, wall, rss = (
                result.pop("seconds"),
                result.pop("wall_seconds"),
                result.pop("peak_rss_mib"),
            )
            print(f"{step:<10}{work:>9}{wall:>9}{rss:>15}  {json.dumps(result)}")


if __name__ == "__main__":
    main()
