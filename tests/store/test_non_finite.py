"""NaN and infinities in stored JSON, on SQLite and PostgreSQL.

A catalog file can hold ``.nan`` or ``.inf`` (YAML has them, JSON has not): the
assembler refuses such an entity, but its observation and document are stored
like any other. PostgreSQL's ``json`` type refuses Python's ``NaN`` and
``Infinity`` tokens, and so do SQLite's JSON functions (the score history).
"""

from __future__ import annotations

import math
from dataclasses import replace

from trueup.store import Store

from .builders import assembled, at, observation, ref, result, snapshot

ODD = {"spec.owner": "team-a", "spec.weights": [math.nan, math.inf, -math.inf, 0.5]}


def _odd(values: object) -> bool:
    assert isinstance(values, list)
    nan, inf, minus, half = values
    return math.isnan(nan) and (inf, minus, half) == (math.inf, -math.inf, 0.5)


def test_non_finite_numbers_are_stored_and_read_back(store: Store) -> None:
    read = replace(snapshot([]), observations=(observation("odd", fields=ODD),))
    entity = assembled("odd", extra={"weights": ODD["spec.weights"]})
    run = store.start_run(trigger="test", sources=["catalog"], now=at(0))
    store.commit(run, [read], result(entity), now=at(0), cause="sync")

    stored = store.entity(ref("odd"))
    assert stored is not None
    assert _odd(stored.assembled.entity["spec"]["weights"])
    [kept] = store.snapshots()[("catalog", "main")].observations
    assert _odd(kept.fields["spec.weights"])
    [change] = store.overview().score_changes()
    assert (change.ref, change.score, change.owner) == (ref("odd"), 100, "group:default/team-a")
