"""The stored form of an observation (``trueup.store.stored_form``): the canonical JSON of
``Observation.to_json`` and its sha256, whichever way the store builds the document."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType

import pytest

from trueup.errors import StoreError
from trueup.model.observation import Nature, Observation, Provenance, Snapshot
from trueup.model.ref import EntityRef
from trueup.store.engine import json_text
from trueup.store.stored_form import ReadEncoder

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
READ = Snapshot("catalog", "main", Nature.INTENT, T0, ())


def _observations() -> list[Observation]:
    shared = Provenance("catalog", "main", "repo@abc:a.yaml#0", T0)
    other_zone = datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    return [
        Observation(EntityRef("component", "default", "a"), Nature.INTENT, shared),
        Observation(
            EntityRef("component", "default", "b"),
            Nature.INTENT,
            shared,
            fields={"metadata.annotations.x/y": "v", "spec.n": [1, 2.5, None, {"b": 1, "a": 2}]},
            part="repo/b.yaml",
            references=(("spec.text", "repo/b.txt"),),
        ),
        Observation(
            EntityRef("component", "default", "c"),
            Nature.ACTUAL,
            Provenance("k8s", "c1", "c1/ns/Deployment/c@1", other_zone),  # same instant as T0+
            fields=MappingProxyType({"z": float("nan"), "é": "ü\u0000"}),
            place="c1/ns",
            status=MappingProxyType({"replicas": "1/1"}),
            links=(("backstage.io/kubernetes-id", "c"),),
            labels={"app": "c"},
            selectors=("backstage.io/kubernetes-label-selector",),
        ),
        Observation(
            EntityRef("component", "default", "d"),
            Nature.ACTUAL,
            Provenance("k8s", "c1", "c1/ns/Deployment/d@1", other_zone + timedelta(hours=1)),
            part="",
        ),
    ]


def test_the_text_and_digest_are_those_of_to_json() -> None:
    encode = ReadEncoder(READ)
    for observation in _observations():
        item = encode(observation)
        text = json_text(observation.to_json(), canonical=True)
        assert item.text == text
        assert item.digest == hashlib.sha256(text.encode()).hexdigest()
        assert item.ref == str(observation.ref)
        assert item.part == (observation.part or "")


def test_a_naive_time_is_refused_even_after_an_aware_one() -> None:
    encode = ReadEncoder(READ)
    first, *_ = _observations()
    encode(first)
    naive = dataclasses.replace(
        first, provenance=dataclasses.replace(first.provenance, observed_at=datetime(2026, 3, 1))
    )
    with pytest.raises(StoreError, match="naive observed_at"):
        encode(naive)


def test_a_value_json_cannot_hold_is_refused() -> None:
    first, *_ = _observations()
    with pytest.raises(StoreError, match="cannot be stored"):
        ReadEncoder(READ)(dataclasses.replace(first, fields={"x": object()}))
