"""The scope gauges of ``/metrics``: the age of a scope's data, not only of its read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import generate_latest

from trueup.metrics import Metrics
from trueup.model.observation import Nature
from trueup.store.records import ScopeHealth


def _health(source: str, read_at: datetime, data_at: datetime | None) -> ScopeHealth:
    return ScopeHealth(
        source=source,
        scope=f"{source}-scope",
        last_success_at=read_at,
        last_failure_at=None,
        last_error=None,
        failure_kind=None,
        item_count=3,
        nature=Nature.ACTUAL if data_at else Nature.INTENT,
        version="1",
        held_removals=0,
        read_at=read_at,
        data_at=data_at,
    )


def test_an_export_read_a_minute_ago_reports_the_age_of_its_data() -> None:
    now = datetime.now(UTC)
    metrics = Metrics()
    metrics.watch_scopes(
        lambda: [
            _health("clusters", now - timedelta(minutes=1), now - timedelta(days=2)),
            _health("catalog", now - timedelta(minutes=1), None),
        ]
    )
    lines = generate_latest(metrics.registry).decode().splitlines()
    [data_age] = [line for line in lines if line.startswith("trueup_scope_data_age_seconds{")]
    assert 'source="clusters"' in data_age
    assert 2 * 86400 <= float(data_age.rsplit(" ", 1)[1]) < 2 * 86400 + 60
    read_ages = [line for line in lines if line.startswith("trueup_scope_age_seconds{")]
    assert len(read_ages) == 2 and all(float(x.rsplit(" ", 1)[1]) < 120 for x in read_ages)
