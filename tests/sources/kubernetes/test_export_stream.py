"""Large exports read item by item give exactly what reading them whole gives."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.sources.kubernetes.builders import (
    NETWORK_XRD,
    crd,
    crossplane_object,
    settings_map,
    xrd,
)
from trueup.model.observation import Observation
from trueup.sources.kubernetes.collectors import collect
from trueup.sources.kubernetes.config import MappingConfig
from trueup.sources.kubernetes.export_stream import ListHead, NotAStreamableList, list_items
from trueup.sources.kubernetes.mappings import CompiledMapping, compile_mappings
from trueup.sources.kubernetes.objects import KUBERNETES_ID
from trueup.sources.kubernetes.snapshot import Export, read_export, streamed_export

EXPORTED = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def app(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": f"svc-{i}", "namespace": "argocd", "labels": {"n": str(i)}},
        "spec": {"source": {"repoURL": "https://git.example.com/x.git", "path": "é" * (i % 7)}},
        "status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}, "n": i / 3},
    }


def deployment(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": f"svc-{i}",
            "namespace": "shop",
            "labels": {"backstage.io/kubernetes-id": f"svc-{i}"},
        },
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"image": "a:1"}]}}},
        "status": {"readyReplicas": i % 3},
    }


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """About 3 MB: items cross the reader's 1 MB chunks many times."""
    items = [make(i) for i in range(4000) for make in (deployment, app)]
    path = tmp_path / "prod.json"
    body = {
        "items": items,
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": "77"},
    }
    path.write_text(json.dumps(body, indent=1, ensure_ascii=False), encoding="utf-8")
    stamp = EXPORTED.timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_a_streamed_export_gives_the_observations_of_a_whole_read(export: Path) -> None:
    whole = read_export(export)
    assert isinstance(whole, Export)
    expected = collect(
        whole.objects,
        source="k",
        scope="prod",
        observed_at=whole.modified_at,
        groups=["workloads", "argocd", "crossplane"],
    ).observations
    streamed = streamed_export(
        export, source="k", scope="prod", groups=["workloads", "argocd", "crossplane"], mappings=()
    )
    assert streamed is not None
    observations, version = streamed
    assert version == "77"
    assert len(observations) == 8000
    assert observations == expected


def test_the_items_come_one_by_one_and_the_head_after_them(export: Path) -> None:
    head = ListHead()
    items = list_items(export, head)
    first = next(items)
    assert isinstance(first, dict) and first["metadata"]["name"] == "svc-0"
    assert head.values == {}  # "items" comes first in this file
    assert sum(1 for _ in items) == 7999
    assert head.values["kind"] == "List"


@pytest.mark.parametrize(
    "text",
    [
        '{"kind": "List", "items": [{"a": 1}, {"b": ',
        '{"kind": "List"}',
        "[1, 2]",
        '{"items": []} x',
    ],
)
def test_what_is_not_a_well_formed_list_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(NotAStreamableList):
        list(list_items(path, ListHead()))


def whole_and_streamed(
    tmp_path: Path, items: list[dict[str, Any]], mappings: tuple[CompiledMapping, ...] = ()
) -> tuple[tuple[Observation, ...], tuple[Observation, ...]]:
    """The observations of ``items`` read whole, and read as a streamed export."""
    path = tmp_path / "prod.json"
    path.write_text(json.dumps({"kind": "List", "items": items}), encoding="utf-8")
    whole = read_export(path)
    assert isinstance(whole, Export)
    expected = collect(
        whole.objects,
        source="k",
        scope="prod",
        observed_at=whole.modified_at,
        groups=["workloads", "argocd", "crossplane"],
        mappings=mappings,
    ).observations
    streamed = streamed_export(
        path,
        source="k",
        scope="prod",
        groups=["workloads", "argocd", "crossplane"],
        mappings=mappings,
    )
    assert streamed is not None
    return expected, streamed[0]


def test_crossplane_kinds_defined_after_their_objects_are_collected_in_file_order(
    tmp_path: Path,
) -> None:
    # The claim and the managed resource come before the definitions of their kinds,
    # between workloads; a mapping reads a ConfigMap. The stream is read once.
    managed_crd = crd("rds.example.org", "Instance", "instances", categories=("managed",))
    items = [
        deployment(0),
        crossplane_object(
            "db.example.org/v1alpha1",
            "Database",
            "orders-db",
            namespace="shop",
            labels={KUBERNETES_ID: "orders"},
        ),
        deployment(1),
        settings_map(),
        crossplane_object("rds.example.org/v1", "Instance", "orders-db-x1"),
        app(2),
        xrd("db.example.org", "XDatabase", "xdatabases", claim=("Database", "databases"), api="v1"),
        managed_crd,
        deployment(3),
    ]
    settings = MappingConfig.model_validate(
        {"apiVersion": "v1", "kind": "ConfigMap", "ref": "metadata.name"}
    )
    mappings = tuple(compile_mappings([settings], "k"))
    expected, streamed = whole_and_streamed(tmp_path, items, mappings)
    assert streamed == expected
    assert [o.provenance.locator.rsplit("/", 1)[-1] for o in streamed] == [
        "svc-0",
        "orders-db",
        "svc-1",
        "payments-settings",
        "orders-db-x1",
        "svc-2",
        "svc-3",
    ]


def test_a_definition_that_claims_a_built_in_kind_gives_the_whole_read(tmp_path: Path) -> None:
    # A composite that composed a Deployment makes Deployments managed resources: those
    # read before the composite cannot keep the workload role they were collected with.
    composite = crossplane_object(
        "net.example.org/v1alpha1",
        "XNetwork",
        "payments-net",
        namespace="shop",
        spec={"crossplane": {"resourceRefs": [{"apiVersion": "apps/v1", "kind": "Deployment"}]}},
    )
    items = [deployment(0), deployment(1), NETWORK_XRD, composite, deployment(2)]
    expected, streamed = whole_and_streamed(tmp_path, items)
    assert streamed == expected
    assert len(streamed) == 4
    assert all(o.status.get("replicas") is None for o in streamed)  # none read as a workload
