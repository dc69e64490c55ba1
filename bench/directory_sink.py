"""Time the directory sink's full pass alone: ``python bench/directory_sink.py --world DIR``.

``DIR`` is a world a sync has written (``bench/cold_sync.py --keep``): its store's
entities are published (``pipeline.publication``, the gate and masking included)
into a fresh, empty folder in ``TMPDIR`` with :func:`write_directory`, as a cold
sync's sink does, ``--rounds`` times. ``--workers N`` runs each pass inside
``early_workers(N)``, as a sync with ``assembly_workers: N`` does. Prints each
pass's wall and CPU time (the CPU time of this process alone).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from trueup.config import load_config
from trueup.parallel import early_workers
from trueup.pipeline import SyncOutcome, publication
from trueup.sinks.directory.sink import write_directory
from trueup.store.store import Store


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--world", type=Path, required=True, help="a synced world's folder")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    config = load_config(args.world / "trueup.yaml")
    store = Store.open(config.database)
    for _ in range(args.rounds):
        folder = Path(tempfile.mkdtemp(prefix="trueup-sink-"))
        try:
            with early_workers(args.workers):
                published = publication(config, store, SyncOutcome(run_id=0), datetime.now(UTC))
                wall, cpu = time.perf_counter(), time.process_time()
                report = write_directory(folder / "catalog", published.rows(), 1, None)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"full pass: {report.written} files, {wall:.2f} s wall, {cpu:.2f} s CPU")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
