"""A change to the settings that shape observations re-reads an unchanged export.

An export read before is kept unparsed while its files are as they were
(``exports.json`` and the part fingerprint). What ``collect:`` and ``mappings:``
say shapes what the same objects yield, so a sync after one of them changed in
``trueup.yaml`` parses the export again and the entities follow: statuses of a
dropped collector go, those of an added one come, a changed mapping shows its
new values. An unchanged configuration over unchanged exports still parses
nothing. Through the real pipeline, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from tests.sources.conftest import NOW, synced
from tests.sources.kubernetes.builders import (
    NETWORK_XRD,
    Obj,
    application,
    deployment,
    healthy_status,
    network,
    settings_map,
)
from tests.sources.kubernetes.harness import PAYMENTS, shown
from trueup.config import Config, load_config
from trueup.model import observation
from trueup.model.ref import EntityRef
from trueup.pipeline import SyncOutcome
from trueup.store import Store

EXPORTED = NOW - timedelta(minutes=1)
NETWORK = EntityRef.of("resource", "shop", "payments-net")  # no declared entity to enrich


def write_export(folder: Path, *items: Obj) -> Path:
    path = folder / "prod.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": list(items)}))
    os.utime(path, (EXPORTED.timestamp(), EXPORTED.timestamp()))
    return path


def configured(tmp_path: Path, settings: str) -> Config:
    """``trueup.yaml`` with one snapshot source whose extra keys are ``settings``."""
    path = tmp_path / "trueup.yaml"
    extra = "".join(f"    {line}\n" for line in settings.strip().splitlines())
    path.write_text(
        f"""\
data_dir: {tmp_path / "data"}
sources:
  - id: clusters
    type: kubernetes
    snapshot: {tmp_path / "exports"}/*.json
{extra}""",
        encoding="utf-8",
    )
    return load_config(path)


def kept(outcome: SyncOutcome) -> bool:
    """The export was found as stored and not parsed: its stored observations stand."""
    (read,) = outcome.snapshots
    return read.kept == {""} and not read.observations


def test_an_unchanged_config_and_export_parse_nothing(tmp_path: Path, store: Store) -> None:
    write_export(tmp_path / "exports", deployment("api", "payments"))
    first = synced(configured(tmp_path, "collect: [workloads, argocd]"), store, 0)
    assert not kept(first)

    again = synced(configured(tmp_path, "collect: [workloads, argocd]"), store, 1)

    assert kept(again)
    assert again.revised == []
    reordered = synced(configured(tmp_path, "collect: [argocd, workloads, argocd]"), store, 2)
    assert kept(reordered)  # the same groups: nothing they yield changed
    assert shown(store) == {"replicas": "2/2", "images": "ghcr.io/acme/app:1"}


def test_dropping_a_collector_takes_its_statuses_off(tmp_path: Path, store: Store) -> None:
    write_export(
        tmp_path / "exports",
        deployment("api", "payments"),
        application("payments", status=healthy_status()),
    )
    synced(configured(tmp_path, "collect: [workloads, argocd]"), store, 0)
    assert shown(store)["argocd-health"] == "Healthy"

    dropped = synced(configured(tmp_path, "collect: [workloads]"), store, 1)

    assert not kept(dropped)
    assert dropped.revised == [PAYMENTS]
    assert shown(store) == {"replicas": "2/2", "images": "ghcr.io/acme/app:1"}
    annotations = store.entity(PAYMENTS).assembled.entity["metadata"]["annotations"]  # type: ignore[union-attr]
    assert not any(key.startswith("trueup.io/argocd") for key in annotations)
    # read with these settings now: the next sync keeps it again
    assert kept(synced(configured(tmp_path, "collect: [workloads]"), store, 2))


def test_adding_a_collector_brings_its_statuses(tmp_path: Path, store: Store) -> None:
    write_export(
        tmp_path / "exports",
        deployment("api", "payments"),
        application("payments", status=healthy_status()),
        NETWORK_XRD,
        network(),
    )
    synced(configured(tmp_path, "collect: [workloads]"), store, 0)
    assert set(shown(store)) == {"replicas", "images"}
    assert store.entity(NETWORK) is None

    added = synced(configured(tmp_path, "collect: [workloads, crossplane]"), store, 1)
    assert not kept(added)
    assert shown(store, NETWORK) == {"crossplane-ready": "True", "crossplane-synced": "True"}
    assert set(shown(store)) == {"replicas", "images"}

    synced(configured(tmp_path, "collect: [workloads, crossplane, argocd]"), store, 2)
    assert shown(store)["argocd-sync"] == "Synced"
    assert shown(store, NETWORK)["crossplane-ready"] == "True"


MAPPING = """\
collect: [workloads]
mappings:
  - apiVersion: v1
    kind: ConfigMap
    ref: "'payments'"
    status:
      {status}
"""


def test_changing_a_mapping_shows_its_new_values(tmp_path: Path, store: Store) -> None:
    write_export(tmp_path / "exports", deployment("api", "payments"), settings_map())
    synced(configured(tmp_path, MAPPING.format(status="tier: data.tier")), store, 0)
    assert shown(store)["tier"] == "gold"

    synced(configured(tmp_path, MAPPING.format(status="tier: data.region")), store, 1)
    assert shown(store)["tier"] == "eu-west-1"

    synced(configured(tmp_path, MAPPING.format(status="region: data.region")), store, 2)
    status = shown(store)
    assert status["region"] == "eu-west-1" and "tier" not in status

    synced(configured(tmp_path, "collect: [workloads]"), store, 3)  # the mapping removed
    assert set(shown(store)) == {"replicas", "images"}


def test_new_read_rules_parse_an_unchanged_export_again(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an upgrade whose collectors read the same objects differently
    (``READ_RULES`` raised), an unchanged export is parsed again."""
    write_export(tmp_path / "exports", deployment("api", "payments"))
    synced(configured(tmp_path, "collect: [workloads]"), store, 0)
    assert kept(synced(configured(tmp_path, "collect: [workloads]"), store, 1))

    monkeypatch.setattr(observation, "READ_RULES", observation.READ_RULES + 1)
    upgraded = synced(configured(tmp_path, "collect: [workloads]"), store, 2)

    assert not kept(upgraded)
    assert shown(store) == {"replicas": "2/2", "images": "ghcr.io/acme/app:1"}
    assert kept(synced(configured(tmp_path, "collect: [workloads]"), store, 3))
