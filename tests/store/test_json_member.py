"""A stored document's ``entity`` is encoded once, for the document and the feed.

:func:`json_text_with_member` gives a value's stored text and one member's text as
plain ``json`` writes it (the feed's JSON); both must be exactly what encoding
each apart gives, whatever the value holds.
"""

from __future__ import annotations

import hashlib
import json
import math
from types import MappingProxyType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from trueup.feed import feed_texts
from trueup.store.encoded import encode_entity
from trueup.store.engine import json_text, json_text_with_member

from .builders import assembled, finding


def _plain(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)
KEYS = st.sampled_from(["ref", "entity", "fields", "é", "\0"])


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(KEYS, VALUES, min_size=1), st.data())
def test_the_value_is_written_as_alone_and_the_member_as_plain_json(
    value: dict[str, Any], data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from(sorted(value)))
    text, member = json_text_with_member(value, key)
    assert text == json_text(value)
    if member is not None:
        assert member == _plain(value[key])
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:  # a non-finite float somewhere: the value is encoded whole
        return
    assert member is not None


def test_a_member_written_otherwise_in_the_store_is_not_given() -> None:
    odd: dict[str, Any] = {
        "ref": "a",
        "entity": {"w": [math.nan, 1.5], "n": "x\0y", "s": "\ud800"},
        "rest": 1,
    }
    text, member = json_text_with_member(odd, "entity")
    assert (text, member) == (json_text(odd), None)  # NaN: written 0e999999 in the store
    proxy: dict[str, Any] = {"ref": "a", "entity": MappingProxyType({"k": 1})}
    assert json_text_with_member(proxy, "entity") == (json_text(proxy), None)
    unstorable: dict[str, Any] = {"ref": "a", "entity": {"n": "x\0y", "s": "\ud800"}}
    text, member = json_text_with_member(unstorable, "entity")
    assert text == json_text(unstorable) and "\\\\u0000" in text and "\\\\ud800" in text
    assert member == _plain(unstorable["entity"])  # the feed's text, as before
    assert json_text_with_member({"a": 1}, "entity") == (json_text({"a": 1}), None)


def test_an_encoded_entity_feeds_the_texts_the_feed_writes() -> None:
    entity = assembled("svc", extra={"tags": ["é", "a\u2028b"], "links": [{"url": "https://x/"}]})
    encoded = encode_entity(entity, None)
    assert encoded.entity_json == _plain(entity.entity)
    feed = encoded.for_write().feed
    assert (feed["feed_yaml"], feed["feed_json"]) == feed_texts(entity)
    assert encoded.entity_json is None  # not kept once written
    assert json.loads(encoded.document)["entity"] == entity.entity


def test_the_findings_hash_is_that_of_the_stored_findings_text() -> None:
    for entity in (assembled("a"), assembled("b", findings=(finding("b"), finding("b", "x")))):
        encoded = encode_entity(entity, None)
        text = json_text(json.loads(encoded.document)["findings"])
        assert encoded.findings_hash == hashlib.sha256(text.encode()).hexdigest()
