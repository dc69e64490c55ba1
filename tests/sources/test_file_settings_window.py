"""A read under new settings whose commit never landed leaves nothing that keeps old parses.

The file source writes ``files.json`` (what each file's parse depended on: the
emission policy, the folder) when its read ends, before the store commits. When
that commit fails (the process is killed, the database stays locked), the
store still holds the observations parsed under the old settings, while
``files.json`` already names the new ones: the next read must parse those files
again, not keep what the old settings made. Through the real pipeline, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import sqlite_only
from trueup.config import Config, load_config
from trueup.crashpoint import ENV, SYNC_READ
from trueup.errors import StoreLockedError
from trueup.model.observation import ScopeRead
from trueup.pipeline import SyncOutcome, sync
from trueup.store import Store

NOW = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
SOURCE_LOCATION = "backstage.io/source-location"
NARROW = ("Component", "Group")
WIDE = ("Component", "Group", "System")

SYSTEM = (
    "apiVersion: backstage.io/v1alpha1\nkind: System\n"
    "metadata:\n  name: payments\n"
    "spec:\n  owner: team-a\n"
)

# A sync that dies (SIGKILL) after its read, before its commit: what the scheduler's
# runner marks with the crashpoint SYNC_READ.
DYING_SYNC = """\
import sys
from trueup.config import load_config
from trueup.crashpoint import SYNC_READ, crashpoint
from trueup.pipeline import sync
from trueup.store import Store

with Store.open(sys.argv[2]) as store:
    sync(load_config(sys.argv[1]), store, progress=lambda source, read: crashpoint(SYNC_READ))
"""


def component(name: str) -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata:\n  name: {name}\n"
        "spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )


def catalog(tmp_path: Path) -> Path:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "api.yaml").write_text(component("api"))
    (folder / "payments.yaml").write_text(SYSTEM)
    return folder


def configured(tmp_path: Path, folder: Path, kinds: Sequence[str] = WIDE) -> Path:
    path = tmp_path / "trueup.yaml"
    path.write_text(
        f"""\
data_dir: {tmp_path / "data"}
backstage:
  kinds: [{", ".join(kinds)}]
sources:
  - id: catalog
    type: file
    path: {folder}
""",
        encoding="utf-8",
    )
    return path


def run(config: Path | Config, store: Store, minutes: int) -> SyncOutcome:
    loaded = load_config(config) if isinstance(config, Path) else config
    outcome = sync(loaded, store, now=lambda: NOW + timedelta(minutes=minutes))
    assert outcome.exit_code == 0 and not outcome.failures and not outcome.held
    return outcome


def die_before_commit(config: Path, db_url: str) -> None:
    """Sync in another process, killed once its read is done: nothing is committed."""
    died = subprocess.run(
        [sys.executable, "-c", DYING_SYNC, str(config), db_url],
        env={**os.environ, ENV: SYNC_READ},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert died.returncode == -signal.SIGKILL, died.stderr


def source_locations(store: Store) -> dict[str, str]:
    """``name -> backstage.io/source-location`` of every current entity."""
    return {
        e.ref.name: e.assembled.entity["metadata"]["annotations"][SOURCE_LOCATION]
        for e in store.entities()
        if not e.removed
    }


def test_kinds_widened_by_a_sync_killed_before_its_commit(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    folder = catalog(tmp_path)
    run(configured(tmp_path, folder, NARROW), store, 0)
    assert set(source_locations(store)) == {"api"}  # a System is not served

    widened = configured(tmp_path, folder, WIDE)
    die_before_commit(widened, db_url)
    assert set(source_locations(store)) == {"api"}  # nothing committed

    run(widened, store, 1)
    assert set(source_locations(store)) == {"api", "payments"}
    (again,) = run(widened, store, 2).snapshots  # parsed under these kinds now: kept
    assert again.kept == {"api.yaml", "payments.yaml"}


def test_a_folder_moved_by_a_sync_killed_before_its_commit(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    folder = catalog(tmp_path)
    run(configured(tmp_path, folder), store, 0)
    assert source_locations(store) == {"api": f"file:{folder}/", "payments": f"file:{folder}/"}

    moved = folder.rename(tmp_path / "moved")  # the same files, the same lstat
    at_new_place = configured(tmp_path, moved)
    die_before_commit(at_new_place, db_url)

    run(at_new_place, store, 1)
    assert source_locations(store) == {"api": f"file:{moved}/", "payments": f"file:{moved}/"}
    (again,) = run(at_new_place, store, 2).snapshots
    assert again.kept == {"api.yaml", "payments.yaml"}


@sqlite_only
def test_kinds_narrowed_by_a_sync_whose_commit_met_a_locked_database(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    folder = catalog(tmp_path)
    run(configured(tmp_path, folder, WIDE), store, 0)
    assert set(source_locations(store)) == {"api", "payments"}

    narrowed = load_config(configured(tmp_path, folder, NARROW))
    other = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)

    def another_writer(source: str, read: ScopeRead) -> None:
        other.execute("BEGIN IMMEDIATE")  # held past the lock timeout

    try:
        with Store.open(db_url, lock_timeout=0.5) as busy, pytest.raises(StoreLockedError):
            sync(narrowed, busy, now=lambda: NOW + timedelta(minutes=1), progress=another_writer)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert set(source_locations(store)) == {"api", "payments"}  # nothing committed

    run(narrowed, store, 2)
    assert set(source_locations(store)) == {"api"}
    (again,) = run(narrowed, store, 3).snapshots
    assert again.kept == {"api.yaml", "payments.yaml"}
