"""Truth rules 2 and 3 (SPEC 5.2, 5.3) for replicas and for sources without a max_age.

``trueup.io/replicas`` is ``ready/desired`` of the worst place: the lowest share
of ready replicas; of two places with the same share, the larger one (it misses
more replicas, if any). A place that wants no replica at all is complete (100 %). A value that
is not ``ready/desired`` is Unknown, never shown as it came. An actual source
without ``max_age`` never turns stale.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.assemble.builders import (
    NOW,
    argo_app,
    catalog_snapshot,
    component,
    deployment,
    group,
    policy,
    snapshot,
    system,
)
from trueup.assemble.assembler import assemble
from trueup.assemble.status import UNKNOWN, is_stale, normalize
from trueup.model.assembled import AssembledEntity
from trueup.model.observation import Observation, Snapshot
from trueup.model.ref import EntityRef

PAYMENTS = EntityRef.of("component", None, "payments")


def _catalog() -> Snapshot:
    return catalog_snapshot(group("team-a"), system("shop"), component("payments"))


def _payments(*observations: Observation, max_age: timedelta | None = None) -> AssembledEntity:
    places = [snapshot("clusters", o.provenance.scope, o) for o in observations]
    result = assemble([_catalog(), *places], policy(max_age=max_age), now=NOW)
    return result.entities[PAYMENTS]


def _replicas(*values: str) -> str:
    deployments = [deployment("payments", scope=f"c{i}", replicas=v) for i, v in enumerate(values)]
    shown = _payments(*deployments).entity["metadata"]["annotations"]["trueup.io/replicas"]
    assert isinstance(shown, str)
    return shown


@pytest.mark.parametrize(
    ("places", "worst"),
    [
        (["1/2", "3/4"], "1/2"),  # 50 % ready is worse than 75 %, though 4 are wanted
        (["3/4", "1/2"], "1/2"),
        (["1/1", "2/4"], "2/4"),
        (["5/5", "0/3"], "0/3"),
        (["2/2", "1/3", "3/4"], "1/3"),
        (["1/2", "2/4"], "2/4"),  # the same share: two missing is worse than one
        (["2/2", "4/4"], "4/4"),  # both complete: the larger place
        (["0/0", "1/3"], "1/3"),  # wanting nothing is complete, not worse than a gap
        (["0/0", "4/3"], "0/0"),  # ...and not better than complete (a surge)
        (["0/0", "3/3"], "3/3"),
        (["0/0"], "0/0"),
    ],
)
def test_replicas_show_the_place_with_the_lowest_share_ready(places: list[str], worst: str) -> None:
    assert _replicas(*places) == worst


@pytest.mark.parametrize(
    "raw", ["3", "three/4", "-1/2", "1/2/3", "1 / 2", " 1/2", "2/2 ", "2/2\n", "\u0661/2", ""]
)
def test_a_malformed_replicas_value_is_unknown_and_kept_as_last_known(raw: str) -> None:
    entity = _payments(deployment("payments", replicas=raw))
    place = next(p for p in entity.places if p.key == "replicas")
    assert (place.value, place.last_known, place.stale) == (UNKNOWN, raw, False)
    assert entity.entity["metadata"]["annotations"]["trueup.io/replicas"] == UNKNOWN


def test_a_malformed_place_makes_the_replicas_aggregate_unknown() -> None:
    assert _replicas("3/3", "n/a") == UNKNOWN


@pytest.mark.parametrize(
    ("key", "raw", "shown"),
    [
        ("replicas", "0/0", "0/0"),
        ("replicas", "12/10", "12/10"),
        ("replicas", "1/2x", UNKNOWN),
        ("argocd-health", "Suspended", "Suspended"),
        ("argocd-health", "", UNKNOWN),
        ("crossplane-ready", "True", "True"),
        ("crossplane-ready", "true", UNKNOWN),
        ("argocd-revision", "abc123", "abc123"),
        ("argocd-revision", "", UNKNOWN),
    ],
)
def test_normalize_shows_only_recognised_values(key: str, raw: str, shown: str) -> None:
    assert normalize(key, raw) == shown


def test_a_source_without_max_age_never_turns_stale() -> None:
    month = timedelta(days=30)
    entity = _payments(
        argo_app("payments", health="Degraded", age=month),
        deployment("payments", replicas="1/2", age=month),
        max_age=None,
    )
    notes = entity.entity["metadata"]["annotations"]
    assert notes["trueup.io/argocd-health"] == "Degraded"
    assert notes["trueup.io/replicas"] == "1/2"
    assert not any(p.stale for p in entity.places)
    assert "stale" not in {f.code for f in entity.findings}
    assert notes["trueup.io/observed-at"] == "2026-10-29T12:00:00Z"  # its age is still shown


def test_staleness_is_strictly_older_than_max_age() -> None:
    seen = NOW - timedelta(minutes=15)
    assert not is_stale(seen, timedelta(minutes=15), NOW)
    assert is_stale(seen - timedelta(seconds=1), timedelta(minutes=15), NOW)
    assert not is_stale(seen - timedelta(days=365), None, NOW)


def test_status_dated_further_in_the_future_than_max_age_is_unknown() -> None:
    """A snapshot file whose modification time is a year ahead (a skewed clock, an
    archive unpacked with its times) is not fresh for a year: its age cannot be told."""
    ahead = timedelta(days=-365)  # observed at NOW + 365 days
    entity = _payments(argo_app("payments", age=ahead), max_age=timedelta(minutes=15))
    notes = entity.entity["metadata"]["annotations"]
    assert notes["trueup.io/argocd-health"] == UNKNOWN
    health = next(p for p in entity.places if p.key == "argocd-health")
    assert (health.value, health.last_known, health.stale) == (UNKNOWN, "Healthy", True)
    assert "stale" in {f.code for f in entity.findings}


def test_a_small_clock_skew_within_max_age_stays_fresh() -> None:
    max_age = timedelta(minutes=15)
    assert not is_stale(NOW + max_age, max_age, NOW)
    assert is_stale(NOW + max_age + timedelta(seconds=1), max_age, NOW)
