"""Write a synthetic benchmark world: ``python bench/world_gen.py DIR --entities N``.

A thin command line over :func:`trueup.world.write_scaled_world` (SPEC section 9),
for trying a world by hand; the benchmark runner calls the function directly.
Prints what was written and how long it took.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from trueup.world import write_scaled_world


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("directory", type=Path, help="where to write (must be empty or absent)")
    parser.add_argument("--entities", type=int, default=100_000, help="catalog entities")
    parser.add_argument("--repos", type=int, default=100, help="repository folders")
    parser.add_argument("--clusters", type=int, default=2, help="cluster export files")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same world")
    args = parser.parse_args(argv)

    directory: Path = args.directory
    if directory.exists() and any(directory.iterdir()):
        print(f"{directory} is not empty; choose a new folder", file=sys.stderr)
        return 1
    started = time.perf_counter()
    try:
        world = write_scaled_world(
            directory,
            entities=args.entities,
            repos=args.repos,
            clusters=args.clusters,
            seed=args.seed,
        )
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    kinds = ", ".join(f"{count} {kind}" for kind, count in world.counts.items())
    print(f"wrote {world.entities} entities ({kinds})")
    print(f"  in {len(world.files)} files across {len(world.repos)} repositories")
    print(
        f"  {world.workloads} workloads of {world.deployed} components"
        f" ({len(world.undeclared)} undeclared) in {len(world.clusters)} clusters"
    )
    print(f"  config: {world.config}")
    print(f"  took {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
