"""A git scope through the whole engine: what an unchanged or one-file change costs (SPEC 8).

Reading an unchanged head again must cost no write and no assembly: the read
keeps the stored observations (with the time they were first seen) instead of
stamping every one with the new read time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trueup.config import parse_config
from trueup.model.ref import EntityRef
from trueup.pipeline import sync
from trueup.store import Store

from .conftest import WorkRepo, component

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def test_an_unchanged_head_assembles_nothing_and_one_changed_file_one_entity(
    tmp_path: Path, db_url: str
) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    for i in range(5):
        repo.write(f"s{i}/catalog-info.yaml", component(f"svc-{i}"))
    repo.commit()
    config = parse_config(
        json.dumps(
            {
                "database": db_url,
                "data_dir": str(tmp_path / "data"),
                "sources": [{"id": "catalog", "type": "git", "url": str(repo.path)}],
            }
        ),
        "trueup.yaml",
        {},
    )
    clock = [T0]
    with Store.open(db_url) as store:
        store.upgrade()
        first = sync(config, store, now=lambda: clock[0])
        assert (first.exit_code, first.assembled) == (0, 5)
        clock[0] += timedelta(minutes=10)
        again = sync(config, store, now=lambda: clock[0])
        assert (again.assembled, again.summary and again.summary.revisions_written) == (0, 0)
        stored = store.entity(EntityRef.of("component", None, "svc-0"))
        assert stored is not None
        origin = stored.assembled.origins["metadata.name"].winner
        assert origin.provenance.observed_at == T0  # first seen at this content, not re-stamped
        (health,) = store.scopes()
        assert health.read_at == clock[0]  # the read itself is recorded

        repo.write("s3/catalog-info.yaml", component("svc-3", description="Changed"))
        repo.commit()
        clock[0] += timedelta(minutes=10)
        changed = sync(config, store, now=lambda: clock[0])
        assert changed.assembled == 1
        assert changed.summary is not None and changed.summary.changed == 1
