"""``observations.resolve``: a batch's handles become observations, each payload decoded once."""

from __future__ import annotations

from trueup.model.observation import Nature, Observation
from trueup.store.observations import resolve

from .builders import observation


def test_handles_resolve_from_memory_or_their_payload_decoded_once_a_batch() -> None:
    in_memory = observation("pay")
    stored = observation("web", nature=Nature.ACTUAL)
    payload = stored.to_json()
    decoded: dict[int, Observation] = {}
    first = resolve([3, (7, payload)], {3: in_memory}, decoded)
    again = resolve([(7, payload)], {3: in_memory}, decoded)  # linked to a second ref
    assert first[0] is in_memory
    assert first[1] == stored
    assert again[0] is first[1]  # not decoded a second time
    assert list(decoded) == [7]
