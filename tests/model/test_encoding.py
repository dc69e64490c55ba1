"""An entity's encodings are the same text, however they are made faster.

The content hash is persisted and compared across syncs, and the stored document,
the feed's JSON and the hashes of both are compared byte for byte: each faster way
of writing them is checked here against the plain way it replaced, on random values
and entities.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trueup.model.assembled import (
    VOLATILE_ANNOTATION,
    AssembledEntity,
    Candidate,
    FieldOrigin,
    PlaceStatus,
)
from trueup.model.finding import Finding, Severity
from trueup.model.json_encoder import encode_with
from trueup.model.observation import Nature, Provenance
from trueup.model.ref import EntityRef

TEXT = st.text(max_size=6) | st.sampled_from(["é", "\0", "\ud800", "a\u2028b", '"\\'])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | TEXT
    | st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -0.0, 2**70])
)
KEYS = TEXT | st.integers() | st.booleans() | st.none() | st.floats()
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(KEYS, inner, max_size=4)
    ),
    max_leaves=14,
)

# The encoders trueup builds (store, feed, content hash), by their options.
ENCODERS = [
    {"ensure_ascii": False, "separators": (",", ":"), "allow_nan": False, "default": dict},
    {"ensure_ascii": False, "separators": (",", ":"), "allow_nan": False, "sort_keys": True},
    {"ensure_ascii": False, "separators": (",", ":"), "allow_nan": False},
    {"ensure_ascii": False, "separators": (",", ":")},
    {"sort_keys": True, "separators": (",", ":"), "default": str},
    {"skipkeys": True},
]


def _outcome(encode: Any, value: Any) -> tuple[str, str]:
    try:
        return ("text", encode(value))
    except (TypeError, ValueError) as error:
        return ("error", type(error).__name__)


@settings(max_examples=200, deadline=None)
@given(VALUES, st.sampled_from(ENCODERS))
def test_encode_with_writes_what_the_encoder_writes(value: Any, options: dict[str, Any]) -> None:
    encoder = json.JSONEncoder(check_circular=False, **options)
    assert _outcome(encode_with(encoder), value) == _outcome(encoder.encode, value)


def test_encode_with_leaves_other_encoders_as_they_are() -> None:
    checking = json.JSONEncoder()  # check_circular: a table per call, so not made once
    assert encode_with(checking) == checking.encode
    indented = json.JSONEncoder(check_circular=False, indent=2)  # written by Python, not C
    assert encode_with(indented) == indented.encode
    encode = encode_with(json.JSONEncoder(check_circular=False, separators=(",", ":")))
    assert encode({"a": [1, 2.5, "é"]}) == '{"a":[1,2.5,"\\u00e9"]}'
    with pytest.raises(TypeError):
        encode({"a": object()})
    assert encode([]) == "[]"  # the same encoder again after an error


# --- content_hash and to_stored, against the ways they were written before ---


def _content_hash_before(entity: AssembledEntity) -> str:
    """``AssembledEntity.content_hash`` as it was first written (json.dumps)."""
    meta = dict(entity.entity.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(VOLATILE_ANNOTATION, None)
    meta["annotations"] = annotations
    payload = {
        "entity": {**entity.entity, "metadata": meta},
        "findings": sorted(
            [f.code, f.severity.value, f.subject, f.message] for f in entity.findings
        ),
        "emitted": entity.emitted,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _to_stored_before(self: AssembledEntity) -> dict[str, Any]:
    """``AssembledEntity.to_stored`` as it was before it was made faster (its code)."""
    table: list[Any] = []
    index: dict[tuple[Provenance, Nature], int] = {}
    seen: dict[tuple[int, Nature], int] = {}

    def at(provenance: Provenance, nature: Nature) -> int:
        found = seen.get((id(provenance), nature))
        if found is None:
            found = index.get((provenance, nature))
            if found is None:
                found = index[(provenance, nature)] = len(table)
                table.append({"nature": nature.value, **provenance.to_json()})
            seen[(id(provenance), nature)] = found
        return found

    def candidate(c: Candidate) -> list[Any]:
        item: list[Any] = [c.value, at(c.provenance, c.nature)]
        if c.references:
            item.append(list(c.references))
        return item

    actual = Nature.ACTUAL
    return {
        "ref": str(self.ref),
        "entity": self.entity,
        "fields": {
            path: [candidate(o.winner), *map(candidate, o.losers)]
            for path, o in self.origins.items()
        },
        "places": [
            {
                "key": p.key,
                "place": p.place,
                "value": p.value,
                "last_known": p.last_known,
                "stale": p.stale,
                "provenance": at(p.provenance, actual),
            }
            for p in self.places
        ],
        "provenances": table,
        "findings": [f.to_json() for f in self.findings],
        "discovered": self.discovered,
        "emitted": self.emitted,
        "score": self.score,
        "observed_at": self.observed_at.isoformat() if self.observed_at else None,
        "sources": list(self.sources),
    }


T0 = datetime(2026, 12, 1, tzinfo=UTC)
NAMES = st.sampled_from(["a", "b", "é", "repos", "clusters"])
WHEN = st.sampled_from([T0, T0 + timedelta(seconds=1.5), T0.replace(tzinfo=None)])


@st.composite
def entities(draw: st.DrawFn) -> AssembledEntity:
    """Random entities whose provenances are shared, equal but apart, or different."""
    made = draw(st.lists(st.builds(Provenance, NAMES, NAMES, NAMES, WHEN), min_size=1, max_size=4))
    # A copy equal to one of them, but another object (as read back from the store).
    made.append(Provenance(made[0].source, made[0].scope, made[0].locator, made[0].observed_at))
    provenances = st.sampled_from(made)
    candidates = st.builds(
        Candidate,
        VALUES,
        st.sampled_from(list(Nature)),
        provenances,
        st.lists(TEXT, max_size=2).map(tuple),
    )
    origins = draw(
        st.dictionaries(
            TEXT, st.builds(FieldOrigin, candidates, st.lists(candidates, max_size=2).map(tuple))
        )
    )
    places = draw(
        st.lists(st.builds(PlaceStatus, TEXT, TEXT, TEXT, TEXT, st.booleans(), provenances))
    )
    findings = draw(
        st.lists(
            st.builds(
                Finding,
                NAMES,
                st.sampled_from(list(Severity)),
                TEXT,
                TEXT,
                st.dictionaries(TEXT, VALUES, max_size=2),
            ),
            max_size=3,
        )
    )
    metadata = draw(
        st.one_of(
            st.none(),
            st.dictionaries(TEXT, VALUES, max_size=3),
            st.dictionaries(TEXT, VALUES, max_size=2).map(
                lambda extra: {
                    "name": "x",
                    **extra,
                    "annotations": {VOLATILE_ANNOTATION: "t", "k": "é"},
                }
            ),
        )
    )
    body = draw(st.dictionaries(TEXT, VALUES, max_size=4))
    return AssembledEntity(
        ref=EntityRef.of("component", None, "x"),
        entity={**body, "metadata": metadata} if metadata is not None else body,
        origins=origins,
        places=tuple(places),
        findings=tuple(findings),
        discovered=draw(st.booleans()),
        emitted=draw(st.booleans()),
        score=draw(st.integers(0, 100)),
        observed_at=draw(st.none() | WHEN),
        sources=tuple(draw(st.lists(NAMES, max_size=2))),
    )


def _text(value: Any) -> str:
    """Exact text, key order included (NaN and all, as the comparison needs no more)."""
    return json.dumps(value, ensure_ascii=False, default=repr)


@settings(max_examples=200, deadline=None)
@given(entities())
def test_the_content_hash_is_the_one_written_before(entity: AssembledEntity) -> None:
    # (Keys of types that cannot be sorted together raise TypeError, as before.)
    assert _outcome(AssembledEntity.content_hash, entity) == _outcome(_content_hash_before, entity)


@settings(max_examples=200, deadline=None)
@given(entities())
def test_the_stored_form_is_the_one_written_before(entity: AssembledEntity) -> None:
    assert _text(entity.to_stored()) == _text(_to_stored_before(entity))
