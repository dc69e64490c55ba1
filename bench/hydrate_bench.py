"""CI hydration of the generated world into a mirror repository (issue 9, SPEC 6.2).

``trueup hydrate --push`` runs as its own process, as a CI job runs it (a
throw-away SQLite database), against the scaled world of ``bench/run.py``
and a bare mirror repository: the first hydration, a rerun with nothing
changed (no commit), ``--check`` on an up-to-date mirror, one catalog file
changed, and for reference the same sync without a mirror and a hydration that
keeps its state in a database. Prints wall time and peak memory of each run, and the size of
each commit (files, and the objects it added to the mirror). Usage::

    python bench/hydrate_bench.py                  # 10,000 entities
    python bench/hydrate_bench.py --entities 2000
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from run import Measure, measure  # bench/run.py: one trueup process, wall time and max RSS
from trueup.config import load_config
from trueup.pipeline import publication, sync
from trueup.plugins import registry
from trueup.sinks.base import PreviewsChanges, SinkSetup
from trueup.store import Store
from trueup.world import touch_one_file, write_scaled_world


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def objects_size(bare: Path) -> int:
    """Bytes of the mirror's objects (loose and packed)."""
    return sum(p.stat().st_size for p in (bare / "objects").rglob("*") if p.is_file())


def head(bare: Path) -> str:
    return git(bare, "rev-parse", "--verify", "--quiet", "refs/heads/main")


def commit_line(bare: Path, before: int) -> str:
    files = len(git(bare, "show", "--format=", "--name-only", "main").splitlines())
    added = (objects_size(bare) - before) / 1e6
    title = git(bare, "log", "-1", "--format=%s", "main")
    return f"  commit {head(bare)[:12]}: {files} files, +{added:.1f} MB of objects ({title})"


def mirror_alone(config_path: Path, root: Path) -> list[str]:
    """The git sink's own time, in this process: a first write, a rerun, a preview."""
    config = load_config(config_path)
    git(root, "init", "-q", "--bare", "-b", "main", "alone.git")
    plugin = registry().sinks["git"]
    sink_config = plugin.config.model_validate({"type": "git", "url": str(root / "alone.git")})
    sink = registry().create_sink(sink_config, SinkSetup(data_dir=root / "alone-data"))
    lines = []
    with Store.open(f"sqlite:///{root / 'alone.db'}") as store:
        store.upgrade()
        outcome = sync(config.model_copy(update={"sinks": []}), store)
        for step in ("write (first)", "write (nothing changed)"):
            published = publication(config, store, outcome, datetime.now(UTC))
            started = time.perf_counter()
            report = sink.write(published)
            lines.append(
                f"  git sink alone, {step}: {time.perf_counter() - started:.2f} s ({report.note})"
            )
        assert isinstance(sink, PreviewsChanges)
        started = time.perf_counter()
        sink.preview(publication(config, store, outcome, datetime.now(UTC)))
        lines.append(f"  git sink alone, preview (--check): {time.perf_counter() - started:.2f} s")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the world and the mirror")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="trueup-hydrate-bench-"))
    started = time.perf_counter()
    world = write_scaled_world(root / "world", entities=args.entities)
    generated = time.perf_counter() - started
    git(root, "init", "-q", "--bare", "-b", "main", "mirror.git")
    bare = root / "mirror.git"
    hydrate = ["hydrate", "-c", str(world.config), "--mirror", str(bare), "--push"]
    label = f"{args.entities} entities"
    lines: list[str] = []
    results: list[Measure] = []

    size = objects_size(bare)
    results.append(measure(f"{label}: hydrate (first, empty mirror)", *hydrate))
    lines.append(commit_line(bare, size))
    first = head(bare)

    results.append(measure(f"{label}: hydrate (nothing changed)", *hydrate))
    lines.append(f"  no new commit: {head(bare) == first}")
    results.append(measure(f"{label}: hydrate --check (up to date)", *hydrate[:-1], "--check"))

    touch_one_file(world)  # the world's repositories are folders a file source reads
    size = objects_size(bare)
    results.append(measure(f"{label}: hydrate (one catalog file changed)", *hydrate))
    lines.append(commit_line(bare, size))

    # What the mirror itself costs: the same sync alone, and a hydration whose state is
    # kept in a database (so that its rerun reads and assembles only what changed).
    results.append(
        measure(f"{label}: sync alone (cold, for reference)", "sync", "-c", str(world.config))
    )
    kept = ["--database", f"sqlite:///{root / 'kept.db'}"]
    results.append(measure(f"{label}: hydrate --database (fills it)", *hydrate, *kept))
    results.append(measure(f"{label}: hydrate --database (nothing changed)", *hydrate, *kept))

    lines += mirror_alone(world.config, root)
    print(f"world generation ({label}): {generated:.2f} s")
    print(f"{'step':<46} {'wall':>10} {'peak RSS':>13}")
    for m in results:
        print(m.line())
    for line in lines:
        print(line)
    files = len(git(bare, "ls-tree", "-r", "--name-only", "main").splitlines())
    print(f"mirror: {files} files, {objects_size(bare) / 1e6:.1f} MB of objects")
    if args.keep:
        print(f"kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    expected = [0] * len(results)
    return 0 if [m.exit_code for m in results] == expected else 1


if __name__ == "__main__":
    sys.exit(main())
