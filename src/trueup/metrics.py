"""What ``/metrics`` exposes (Prometheus): syncs, scopes, webhooks, GitHub budget, HTTP.

One :class:`Metrics` per server process, holding its own registry. The scheduler
records sync durations and outcomes and the GitHub rate-limit budget, the web
layer webhook outcomes and request latency; items per scope and source ages are
read from the store when Prometheus scrapes, so every replica reports the same
shared truth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from trueup.store.records import ScopeHealth

_SYNC_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class Metrics:
    """The server's metrics and the registry ``/metrics`` renders."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.sync_seconds = Histogram(
            "trueup_sync_duration_seconds",
            "Time one sync job took, by source and what triggered it.",
            ["source", "trigger"],
            buckets=_SYNC_BUCKETS,
            registry=self.registry,
        )
        self.sync_step_seconds = Histogram(
            "trueup_sync_step_duration_seconds",
            "Time one sync job spent in each step, by source: read, apply (the reads to the"
            " stored rows), assemble (and write what changed), commit (both, and the"
            " transaction), sinks.",
            ["source", "step"],
            buckets=_SYNC_BUCKETS,
            registry=self.registry,
        )
        self.syncs = Counter(
            "trueup_syncs",
            "Sync jobs run, by source and outcome (ok, partial, error).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "trueup_webhook_deliveries",
            "Webhook deliveries by provider and outcome (queued, coalesced, replay, "
            "ignored, refused, too-large).",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self.github_remaining = Gauge(
            "trueup_github_ratelimit_remaining",
            "Requests left in the GitHub API rate-limit window, by source.",
            ["source"],
            registry=self.registry,
        )
        self.github_limit = Gauge(
            "trueup_github_ratelimit_limit",
            "The GitHub API rate limit per window, by source.",
            ["source"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "trueup_http_request_duration_seconds",
            "HTTP request latency by method, route and status.",
            ["method", "route", "status"],
            buckets=_HTTP_BUCKETS,
            registry=self.registry,
        )

    def observe_steps(self, source: str, seconds: Mapping[str, Any]) -> None:
        """Record a sync job's steps from its run record's ``seconds`` (trueup.timings)."""
        steps = {
            "read": sum((seconds.get("read") or {}).values()),
            **(seconds.get("commit_parts") or {}),
            "commit": seconds.get("commit", 0.0),
            "sinks": sum((seconds.get("sinks") or {}).values()),
        }
        for step, value in steps.items():
            self.sync_step_seconds.labels(source, step).observe(value)

    def watch_scopes(self, read: Callable[[], list[ScopeHealth]]) -> None:
        """Report items per scope and source age from ``read()`` at every scrape."""
        self.registry.register(_ScopeCollector(read))


class _ScopeCollector(Collector):
    def __init__(self, read: Callable[[], list[ScopeHealth]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        items = GaugeMetricFamily(
            "trueup_scope_items",
            "Observations in each scope's current snapshot.",
            labels=["source", "scope"],
        )
        age = GaugeMetricFamily(
            "trueup_scope_age_seconds",
            "Seconds since each scope's current snapshot was read.",
            labels=["source", "scope"],
        )
        data_age = GaugeMetricFamily(
            "trueup_scope_data_age_seconds",
            "Seconds since the newest observation of each actual scope was made; past "
            "its source's max_age, the status it gives is Unknown.",
            labels=["source", "scope"],
        )
        failing = GaugeMetricFamily(
            "trueup_scope_failing",
            "1 when the latest read of a scope failed.",
            labels=["source", "scope"],
        )
        held = GaugeMetricFamily(
            "trueup_scope_held_removals",
            "Removals held back in each scope (SPEC 5.4).",
            labels=["source", "scope"],
        )
        now = datetime.now(UTC)
        for scope in self._read():
            labels = [scope.source, scope.scope]
            items.add_metric(labels, scope.item_count)
            failing.add_metric(labels, 1 if scope.failing else 0)
            held.add_metric(labels, scope.held_removals)
            if scope.read_at is not None:
                age.add_metric(labels, (now - scope.read_at).total_seconds())
            if scope.data_at is not None:
                data_age.add_metric(labels, (now - scope.data_at).total_seconds())
        yield from (items, age, data_age, failing, held)

    def describe(self) -> Iterator[Metric]:
        return iter(())
