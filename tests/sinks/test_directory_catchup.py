"""The directory sink catches up with commits it never wrote (a kill, a sync without it).

The store commits before the sinks write, and the next sync revises only what
it changed itself: a sink that missed a commit must know it, or the files of
that commit's changes stay stale for good.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from trueup.config import Config, load_config
from trueup.crashpoint import ENV
from trueup.pipeline import SyncOutcome, sync
from trueup.sinks.directory.sink import BEFORE_WRITE
from trueup.store import Store

GROUP = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: []}
"""


def component(name: str, owner: str = "team-a") -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata: {{name: {name}, description: The {name} service}}\n"
        f"spec: {{type: service, lifecycle: production, owner: {owner}}}\n"
    )


class World:
    """A catalog folder read by a file source, and a directory sink's folder."""

    def __init__(self, root: Path, db_url: str) -> None:
        self.root, self.db_url = root, db_url
        self.catalog = root / "catalog"
        self.catalog.mkdir()
        self.out = root / "out"
        self.declare("team-a", GROUP)
        for name in ("payments", "orders", "search"):
            self.declare(name, component(name))
        self.config = root / "trueup.yaml"
        self.config.write_text(self.text(sinks=True))

    def declare(self, name: str, text: str) -> None:
        path = self.catalog / f"{name}.yaml"
        stamp = path.stat().st_mtime + 10 if path.exists() else None
        path.write_text(text)
        if stamp is not None:  # a change the file source sees, however coarse the clock
            os.utime(path, (stamp, stamp))

    def text(self, *, sinks: bool) -> str:
        lines = [
            f"database: {self.db_url}",
            "public_url: https://trueup.example.com",
            "sources:",
            f"  - {{id: catalog, type: file, path: {self.catalog}}}",
        ]
        if sinks:
            lines += ["sinks:", f"  - {{type: directory, path: {self.out}}}"]
        return "\n".join(lines) + "\n"

    def change_payments_remove_orders(self) -> None:
        self.declare("payments", component("payments", owner="team-b"))
        (self.catalog / "orders.yaml").unlink()

    def trueup_sync(self, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "trueup", "sync", "-c", str(self.config)],
            cwd=self.root,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def loaded(self, *, sinks: bool) -> Config:
        if not sinks:
            bare = self.root / "bare.yaml"
            bare.write_text(self.text(sinks=False))
            return load_config(bare)
        return load_config(self.config)

    def sync(self, store: Store, *, sinks: bool = True) -> SyncOutcome:
        return sync(self.loaded(sinks=sinks), store)

    def owner(self, name: str) -> str | None:
        path = self.out / "default" / "component" / f"{name}.yaml"
        if not path.exists():
            return None
        return str(yaml.safe_load(path.read_text())["spec"]["owner"])


def test_a_sync_killed_before_the_sink_wrote_is_caught_up_by_the_next(
    tmp_path: Path, db_url: str
) -> None:
    world = World(tmp_path, db_url)
    first = world.trueup_sync()
    assert first.returncode == 0, first.stderr
    assert (world.owner("payments"), world.owner("orders")) == ("team-a", "team-a")

    world.change_payments_remove_orders()
    killed = world.trueup_sync(**{ENV: BEFORE_WRITE})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with Store.open(db_url) as store:
        assert store.generation() == 2  # the store committed the change
    assert (world.owner("payments"), world.owner("orders")) == ("team-a", "team-a")

    again = world.trueup_sync()  # nothing new to read: this sync revises nothing
    assert again.returncode == 0, again.stderr
    assert world.owner("payments") == "team-b"
    assert world.owner("orders") is None
    assert world.owner("search") == "team-a"


def test_a_commit_the_sink_never_saw_is_written_by_its_next_write(
    tmp_path: Path, db_url: str
) -> None:
    world = World(tmp_path, db_url)
    with Store.open(db_url) as store:
        store.upgrade()
        world.sync(store)
        world.change_payments_remove_orders()
        world.sync(store, sinks=False)  # committed; the folder is not written
        assert (world.owner("payments"), world.owner("orders")) == ("team-a", "team-a")

        outcome = world.sync(store)
        assert (world.owner("payments"), world.owner("orders")) == ("team-b", None)
        (report,) = outcome.sinks
        assert (report.written, report.removed) == (1, 1)

        # Caught up: the next change is written incrementally again (its entity only).
        world.declare("search", component("search", owner="team-b"))
        (report,) = world.sync(store).sinks
        assert (report.written, report.unchanged, report.removed) == (1, 0, 0)
        assert world.owner("search") == "team-b"
