"""Text longer than a column's declared length: PostgreSQL refuses it (``varchar(255)``)
where SQLite stores it whole, so the store must not hand such a value to either.

A sync's trigger names the webhook delivery behind it (the repository path and the
delivery id, both chosen by the sender), and a delivery id is the sender's header.
"""

from __future__ import annotations

from trueup.store import Store
from trueup.store.operations import Operations

from .builders import at

LONG_PATH = "group/" + "sub/" * 70 + "service"  # a GitLab project path of 291 characters


def test_a_long_trigger_is_recorded_shortened_alike(store: Store) -> None:
    trigger = f"webhook gitlab {LONG_PATH} delivery gitlab:0f6e"
    run = store.start_run(trigger=trigger, sources=["catalog"], now=at(0))
    [stored] = store.runs(limit=1)
    assert stored.id == run
    assert len(stored.trigger) == 255
    assert stored.trigger == trigger[:254] + "…"


def test_a_long_delivery_id_is_recorded_and_its_replay_recognised(store: Store) -> None:
    delivery = "gitlab:" + "k" * 300  # an Idempotency-Key as long as its sender likes
    other = delivery[:-1] + "j"
    operations = store.operations()
    with operations.transaction() as conn:
        assert Operations.delivery_status(conn, delivery) is None
        assert Operations.record_delivery(
            conn, delivery, source="gitlab", event="Push Hook", status="queued", now=at(0)
        )
    with operations.transaction() as conn:
        assert Operations.delivery_status(conn, delivery) == "queued"
        assert Operations.delivery_status(conn, other) is None
        assert not Operations.record_delivery(
            conn, delivery, source="gitlab", event="Push Hook", status="queued", now=at(1)
        )
        assert Operations.record_delivery(
            conn, other, source="gitlab", event="Push Hook", status="ignored", now=at(1)
        )
    [latest, first] = operations.deliveries()
    assert (first.status, latest.status) == ("queued", "ignored")
    assert all(len(d.delivery_id) <= 255 for d in (first, latest))
