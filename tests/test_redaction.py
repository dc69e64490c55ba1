"""The one redaction layer: what it masks, where it is fed from, and the places it guards."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from trueup.config import parse_config
from trueup.redaction import (
    KNOWN_SECRETS,
    MASK,
    install_log_redaction,
    mask_url,
    redact_record,
    redact_text,
)
from trueup.store import Store
from trueup.store.bulk import insert_rows
from trueup.store.engine import JSONText, create_engine

from .store.builders import T0


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@host/x", f"https://user:{MASK}@host/x"),
        ("https://ghp_token@github.com/a/b.git", f"https://{MASK}@github.com/a/b.git"),
        ("https://t:x-oauth-basic@github.com/a", f"https://{MASK}@github.com/a"),
        ("ssh://git@github.com/a/b.git", "ssh://git@github.com/a/b.git"),
        ("https://h/s?token=abc&ref=main", f"https://h/s?token={MASK}&ref=main"),
        ("https://h/s?X-Amz-Signature=ab&X-Amz-Credential=cd", None),
        (
            "https://h/s?access_token=a;api-key=b#frag",
            f"https://h/s?access_token={MASK};api-key={MASK}#frag",
        ),
        ("https://h/s?page=2&sort=name", "https://h/s?page=2&sort=name"),
    ],
)
def test_credentials_in_urls_are_masked_and_the_rest_stays_readable(
    url: str, shown: str | None
) -> None:
    masked = mask_url(url)
    if shown is not None:
        assert masked == shown
    else:
        assert "ab" not in masked.split("?")[1] and "cd" not in masked.split("?")[1]


def test_a_known_secret_is_masked_in_every_form_it_takes() -> None:
    secret = 'pa"ss wörd/ü'
    KNOWN_SECRETS.add(secret)
    for text in (secret, 'pa\\"ss w\\u00f6rd/\\u00fc', "pa%22ss%20w%C3%B6rd%2F%C3%BC"):
        assert redact_text(f"before {text} after") == f"before {MASK} after", text
    KNOWN_SECRETS.add("abc")  # too short to be a credible secret: would mask words
    assert redact_text("abc") == "abc"


def test_nothing_to_mask_gives_back_the_same_text() -> None:
    text = "url:http://trueup/backstage/entities.yaml catalog@1a2b:teams/a.yaml#0"
    assert redact_text(text) is text


def test_the_configuration_feeds_every_secret_it_holds() -> None:
    parse_config(
        "database: postgresql://app:db-Passw0rd@db/x\n"
        "sources:\n"
        "  - {id: gh, type: github, org: a, token: ghp_literal_token1}\n"
        "  - {id: tf, type: terraform, state: 'https://h/s?token=state-Tok3n', "
        "password: ${TF_PASS}}\n",
        "t.yaml",
        {"TF_PASS": "tf-Passw0rd"},
    )
    for secret in ("db-Passw0rd", "ghp_literal_token1", "state-Tok3n", "tf-Passw0rd"):
        assert redact_text(f"a {secret} b") == f"a {MASK} b"


def test_no_stored_row_holds_a_known_secret(tmp_path: Path) -> None:
    KNOWN_SECRETS.add("stored-Secret-1")
    url = f"sqlite:///{tmp_path / 't.db'}"
    with Store.open(url) as store:
        store.upgrade()
        run = store.start_run(trigger="stored-Secret-1 and https://u:pw@h/x", sources=[], now=T0)
        store.finish_run(run, status="ok", now=T0, summary={"note": "stored-Secret-1"})
    with sqlite3.connect(tmp_path / "t.db") as conn:
        dump = "\n".join(conn.iterdump())
    assert "stored-Secret-1" not in dump and "u:pw@" not in dump
    assert f"{MASK} and https://u:{MASK}@h/x" in dump


def test_a_run_stores_no_known_secret_on_either_backend(db_url: str) -> None:
    """The run's trigger is a text column, its summary a JSON one."""
    KNOWN_SECRETS.add("stored-Secret-1")
    with Store.open(db_url) as store:
        store.upgrade()
        run = store.start_run(trigger="stored-Secret-1", sources=[], now=T0)
        store.finish_run(run, status="ok", now=T0, summary={"note": "a stored-Secret-1 b"})
    engine = create_engine(sa.make_url(db_url))
    try:
        with engine.connect() as conn:
            query = "SELECT trigger, CAST(summary AS TEXT) FROM sync_runs"
            stored = [tuple(r) for r in conn.exec_driver_sql(query)]
    finally:
        engine.dispose()
    assert stored == [(MASK, f'{{"note":"a {MASK} b"}}')]


@pytest.mark.parametrize("bulk", [False, True], ids=["sqlalchemy", "insert_rows"])
@pytest.mark.parametrize("many", [1, 300], ids=["one row", "300 rows"])
def test_json_values_are_masked_as_text_is(db_url: str, *, bulk: bool, many: int) -> None:
    """JSON reaches the driver as text on SQLite and as the driver's own value on PostgreSQL."""
    KNOWN_SECRETS.add("json-Secret-1")
    table = sa.Table(
        "j", sa.MetaData(), sa.Column("id", sa.Integer), sa.Column("v", sa.JSON(none_as_null=True))
    )
    values = [
        {"note": "x json-Secret-1 y", "n": [1, None]},
        JSONText('{"url":"https://u:pw@h/x"}'),
        {"clean": "nothing here"},
        None,
    ]
    rows = [{"id": i, "v": values[i % len(values)]} for i in range(max(many, len(values)))]
    engine = create_engine(sa.make_url(db_url))
    try:
        with engine.begin() as conn:
            table.create(conn)
            if bulk:
                insert_rows(conn, table, rows)
            else:
                for row in rows if many == 1 else [rows]:
                    conn.execute(sa.insert(table), row)
            stored = {
                i: v for i, v in conn.execute(sa.select(table.c.id, table.c.v)) if i < len(values)
            }
    finally:
        engine.dispose()
    assert stored == {
        0: {"note": f"x {MASK} y", "n": [1, None]},
        1: {"url": f"https://u:{MASK}@h/x"},
        2: {"clean": "nothing here"},
        3: None,
    }


@pytest.mark.parametrize("bulk", [False, True], ids=["sqlalchemy", "insert_rows"])
@pytest.mark.parametrize("position", [0, 255, 256, 599])
def test_a_bulk_write_masks_the_one_row_that_needs_it(
    db_url: str, position: int, *, bulk: bool
) -> None:
    """Rows of an executemany are checked together; a row that needs masking is still found.

    The store's own bulk inserts (:func:`trueup.store.bulk.insert_rows`) go to the
    driver below SQLAlchemy's statement handling, and are masked all the same.
    """
    KNOWN_SECRETS.add("bulk-Secret-1")
    KNOWN_SECRETS.add("two\nlines")
    table = sa.Table("t", sa.MetaData(), sa.Column("a", sa.Text), sa.Column("b", sa.Text))
    engine = create_engine(sa.make_url(db_url))
    rows = [{"a": f"url:https://host/{i}", "b": f"row {i}"} for i in range(600)]
    rows[position] = {"a": "x bulk-Secret-1 y", "b": "https://h/s?token=abc"}
    rows[(position + 1) % 600] = {"a": "https://u:pw@h/x", "b": "ends with two"}
    rows[(position + 2) % 600] = {"a": "lines on", "b": "https://h/s?token="}
    try:
        with engine.begin() as conn:
            table.create(conn)
            if bulk:
                insert_rows(conn, table, rows)
            else:
                conn.execute(sa.insert(table), rows)
            stored = [tuple(r) for r in conn.execute(sa.select(table.c.a, table.c.b))]
    finally:
        engine.dispose()
    assert stored[position] == (f"x {MASK} y", f"https://h/s?token={MASK}")
    assert stored[(position + 1) % 600] == (f"https://u:{MASK}@h/x", "ends with two")
    assert stored[(position + 2) % 600] == ("lines on", "https://h/s?token=")
    expected = {i: (f"url:https://host/{i}", f"row {i}") for i in range(600)}
    for i in (position, position + 1, position + 2):
        expected.pop(i % 600)
    assert {i: stored[i] for i in expected} == expected


def test_log_records_and_their_tracebacks_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    install_log_redaction()  # twice is once
    KNOWN_SECRETS.add("log-Secret-42")
    logger = logging.getLogger("trueup.test")
    try:
        raise ValueError("failed with log-Secret-42")
    except ValueError:
        logger.exception("reading %s failed", "https://u:log-Secret-42@h")
    (record,) = caplog.records
    assert record.getMessage() == f"reading https://u:{MASK}@h failed"
    assert "log-Secret-42" not in caplog.text and f"ValueError: failed with {MASK}" in caplog.text


def test_a_record_with_a_bad_format_string_is_still_redacted() -> None:
    KNOWN_SECRETS.add("fmt-Secret-7")
    record = logging.LogRecord("x", logging.INFO, "f", 1, "%d fmt-Secret-7", ("no",), None)
    assert "fmt-Secret-7" not in redact_record(record).getMessage()
