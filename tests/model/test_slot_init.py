"""slot_init: the same constructor as the dataclass's, minus its cost; nothing else changes."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from trueup.model.assembled import Candidate, FieldOrigin, PlaceStatus
from trueup.model.observation import Nature, Observation, Provenance
from trueup.model.ref import EntityRef
from trueup.model.slot_init import slot_init

SERVED = [Candidate, FieldOrigin, PlaceStatus, EntityRef, Provenance, Observation]


def _generated(cls: type) -> inspect.Signature:
    """The signature ``@dataclass`` itself gives ``cls``'s fields."""
    twin: type = dataclass(frozen=True, slots=True)(
        type(
            cls.__name__,
            (),
            {
                "__annotations__": {f.name: f.type for f in dataclasses.fields(cls)},
                **{
                    f.name: field(default=f.default, default_factory=f.default_factory)
                    for f in dataclasses.fields(cls)
                },
            },
        )
    )
    return inspect.signature(twin)


@pytest.mark.parametrize("cls", SERVED, ids=lambda c: c.__name__)
def test_each_class_keeps_the_dataclass_signature(cls: type) -> None:
    assert str(inspect.signature(cls)) == str(_generated(cls))
    assert vars(cls)["__init__"].__qualname__ == f"{cls.__qualname__}.__init__"


def _observation(**changes: Any) -> Observation:
    at = datetime(2026, 1, 2, tzinfo=UTC)
    ref = EntityRef("component", "default", "payments")
    return Observation(ref, Nature.INTENT, Provenance("repos", "main", "a.yaml", at), **changes)


def test_values_defaults_and_fresh_factories_are_set() -> None:
    first, second = _observation(), _observation(place="cluster-1", links=(("a", "b"),))
    assert first.fields == {} and first.fields is not second.fields  # a factory per instance
    assert first.place is None and second.place == "cluster-1"
    assert second.links == (("a", "b"),)
    assert first.provenance.locator == "a.yaml"
    assert first.ref.name == "payments"


def test_equality_hashing_ordering_replace_pickling_and_freezing_stay() -> None:
    one = _observation(part="a.yaml", checked="policy")
    other = _observation(part="a.yaml")
    assert one == other and hash(one.ref) == hash(other.ref)  # checked does not compare
    assert dataclasses.replace(one, part="b.yaml").part == "b.yaml"
    assert pickle.loads(pickle.dumps(one)) == one
    assert EntityRef("api", "default", "a") < EntityRef("component", "default", "a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.ref.name = "other"  # type: ignore[misc]
    place = PlaceStatus("health", "c1", "Healthy", "Healthy", False, one.provenance)
    assert repr(place).startswith("PlaceStatus(key='health', place='c1'")


def test_a_class_it_cannot_serve_as_the_dataclass_would_is_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class Checked:
        value: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True, slots=True)
    class Keywords:
        value: int = field(kw_only=True)

    @dataclass(frozen=True)
    class Unslotted:
        value: int

    for cls in (Checked, Keywords, Unslotted):
        with pytest.raises(TypeError, match="slot_init"):
            slot_init(cls)
