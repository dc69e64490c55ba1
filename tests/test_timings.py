"""Where a sync's time went: its steps in its run record, ``trueup sync`` and ``/metrics``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from tests.conftest import run
from trueup.config import Config, parse_config
from trueup.metrics import Metrics
from trueup.pipeline import sync
from trueup.scheduler.jobs import SyncJob
from trueup.scheduler.runner import JobRunner
from trueup.store import Store
from trueup.timings import Timings, describe

COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: payments}
spec: {type: service, lifecycle: production, owner: team-a}
"""

CLUSTER = {
    "apiVersion": "v1",
    "kind": "List",
    "items": [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "payments", "namespace": "shop", "resourceVersion": "7"},
            "spec": {"replicas": 1},
            "status": {"replicas": 1, "readyReplicas": 1},
        }
    ],
}


class Ticks:
    """A clock that moves only when told: each step's time is known exactly."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_each_step_adds_its_time_and_the_total_stops_with_the_sync() -> None:
    clock = Ticks()
    timings = Timings(clock)
    with timings.reading("catalog"):
        clock.now += 2.0
    with timings.reading("clusters"):
        clock.now += 0.5
    for attempt in (1.0, 3.0):  # a commit retried: both attempts count
        with timings.committing():
            clock.now += attempt
    timings.commit_reported({"apply": 0.75, "assemble": 2.0})
    with timings.writing("directory sink out"):
        clock.now += 0.25
    timings.stop()
    clock.now += 60.0  # printing the summary later does not add to the sync's time
    assert timings.to_json() == {
        "read": {"catalog": 2.0, "clusters": 0.5},
        "commit": 4.0,
        "commit_parts": {"apply": 0.75, "assemble": 2.0},
        "sinks": {"directory sink out": 0.25},
        "total": 6.75,
    }


def test_a_step_that_raises_still_counts() -> None:
    clock = Ticks()
    timings = Timings(clock)
    with pytest.raises(OSError), timings.writing("directory sink out"):
        clock.now += 1.5
        raise OSError("disk full")
    assert timings.sinks == {"directory sink out": 1.5}


def test_the_line_names_each_source_and_sink_and_the_commits_parts() -> None:
    one = {
        "read": {"catalog": 2.0},
        "commit": 4.0,
        "commit_parts": {"apply": 0.75, "assemble": 2.0},
        "sinks": {},
        "total": 74.5,
    }
    assert describe(one) == (
        "74.5 s: read catalog 2.00 s, commit 4.00 s (applying reads 0.75 s,"
        " assembling and writing 2.00 s)"
    )
    two = {
        "read": {"repos": 7.25, "clusters": 4.125},
        "commit": 12.0,
        "sinks": {"directory sink out": 0.5, "export": 0.25},
        "total": 20.0,
    }
    assert describe(two) == (
        "20.0 s: read 11.4 s (repos 7.25 s, clusters 4.12 s), commit 12.0 s,"
        " sinks 0.75 s (directory sink out 0.50 s, export 0.25 s)"
    )


@pytest.fixture
def config_file(tmp_path: Path, db_url: str) -> Path:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "payments.yaml").write_text(COMPONENT)
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "prod.json").write_text(json.dumps(CLUSTER))
    text = json.dumps(
        {
            "database": db_url,
            "sources": [
                {"id": "catalog", "type": "file", "path": str(catalog)},
                {"id": "clusters", "type": "kubernetes", "snapshot": str(exports / "*.json")},
            ],
            "sinks": [{"type": "directory", "path": str(tmp_path / "out")}],
        }
    )
    path = tmp_path / "trueup.yaml"  # JSON is YAML
    path.write_text(text)
    return path


@pytest.fixture
def config(config_file: Path) -> Config:
    return parse_config(config_file.read_text(), str(config_file), {}, config_file.parent)


@pytest.fixture
def synced(config: Config, store: Store) -> Iterator[dict[str, Any]]:
    outcome = sync(config, store)
    (record,) = [r for r in store.runs() if r.id == outcome.run_id]
    yield record.summary["seconds"]


def test_the_run_record_keeps_each_steps_time(synced: dict[str, Any]) -> None:
    seconds = synced
    assert list(seconds["read"]) == ["catalog", "clusters"]
    assert list(seconds["commit_parts"]) == ["apply", "assemble"]
    (sink,) = seconds["sinks"]
    assert sink.startswith("directory sink ")
    steps = [*seconds["read"].values(), seconds["commit"], *seconds["sinks"].values()]
    assert all(isinstance(s, float) and s >= 0 for s in steps)
    # The steps run one after the other, within the sync; the commit holds its parts.
    assert sum(steps) <= seconds["total"]
    assert sum(seconds["commit_parts"].values()) <= seconds["commit"]


def test_trueup_sync_prints_where_its_time_went(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "sync", "-c", str(config_file))
    assert code == 0
    took = " ".join(out[out.index("took") :].split())
    assert took.startswith("took ")
    assert "read " in took and "(catalog " in took and ", clusters " in took
    assert "commit " in took and "(applying reads " in took and "assembling and writing" in took
    assert "sinks directory sink " in took


def test_a_sync_job_reports_its_steps_to_prometheus(config: Config, store: Store) -> None:
    metrics = Metrics()
    JobRunner(config, store, metrics).run(SyncJob("catalog"))
    text = generate_latest(metrics.registry).decode()
    for step in ("read", "apply", "assemble", "commit", "sinks"):
        name = "trueup_sync_step_duration_seconds_count"
        assert f'{name}{{source="catalog",step="{step}"}} 1.0' in text
