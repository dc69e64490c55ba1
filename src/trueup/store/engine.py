"""Connecting to the database and translating its errors: the store's I/O boundary.

:meth:`trueup.store.store.Store.open` calls :func:`create_engine`; every store
method runs inside :func:`translated`, so SQLAlchemy and driver exceptions leave
the store only as :class:`~trueup.errors.StoreError` (chained with ``from``)
whose message never contains the password of the database URL.

Every string parameter of every ``INSERT`` and ``UPDATE`` passes through
:func:`trueup.redaction.redact_stored` (a ``before_cursor_execute`` hook), so no
secret that trueup knows is ever stored, whichever module wrote the row. That
includes JSON values: on SQLite they reach the hook as text; on PostgreSQL as the
driver's JSON parameters, whose text the hook reads (and masks) before the driver
sends it.

SQLite is tuned for one writer and many readers: WAL, foreign keys on,
``busy_timeout`` 5 s (less if the store's lock timeout is shorter),
``synchronous=NORMAL``; a writer refused after that is tried again by
:func:`retry_while_locked`. The store issues ``BEGIN`` itself
(pysqlite's own transaction handling is switched off) so that a write
transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock up front
instead of failing half-way when a read turns into a write.
"""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection, Engine

from trueup.errors import StoreError, StoreLockedError
from trueup.model.json_encoder import encode_with
from trueup.model.observation import show_unstorable, storable
from trueup.redaction import redact_stored

log = logging.getLogger(__name__)
T = TypeVar("T")

WRITE = "trueup_write"
"""Execution option that marks a connection's next transaction as a write."""

BUSY_TIMEOUT = 5.0  # seconds SQLite itself waits for a lock before refusing a write
_COMMIT_LOCK = 0x7472_7565_7570  # PostgreSQL advisory lock key ("trueup" in ASCII)


class JSONText(str):
    """JSON that is already serialised: stored as it is, not serialised again.

    The store hashes the text of large documents anyway; handing the same text to
    the JSON column saves serialising every document twice.
    """

    __slots__ = ()


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback: read-only mappings become objects; anything else fails."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


# Built once: json.dumps() with options constructs a new encoder on every call.
# allow_nan=False: a non-finite float raises, and _encode writes it as below.
# check_circular=False: a fifth faster. A value that holds itself, which no parsed
# document can, raises RecursionError instead of ValueError, as _has_non_finite
# already made it do.
# Each is called through encode_with: the same text without the setup of every call.
def _stored_encoder(*, sort_keys: bool) -> Callable[[Any], str]:
    return encode_with(
        json.JSONEncoder(
            ensure_ascii=False,
            separators=(",", ":"),
            sort_keys=sort_keys,
            allow_nan=False,
            check_circular=False,
            default=json_default,
        )
    )


_COMPACT = _stored_encoder(sort_keys=False)
_CANONICAL = _stored_encoder(sort_keys=True)
# What plain json.dumps(ensure_ascii=False) writes compactly, where it writes anything:
# no fallback, and a non-finite float raises (see json_text_with_member).
_PLAIN = encode_with(
    json.JSONEncoder(
        ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
    )
)

# JSON has no NaN or infinities, yet a catalog file may hold them (YAML's .nan, .inf):
# Python's NaN/Infinity tokens are refused by PostgreSQL's json type and SQLite's JSON
# functions. They are written as numbers out of a double's range, which no finite float
# is written as (its repr), and read back as they were (load_json).
_NON_FINITE_TEXT = {"inf": "1e999999", "-inf": "-1e999999", "nan": "0e999999"}
_NON_FINITE_READ = {text: float(name) for name, text in _NON_FINITE_TEXT.items()}
# Stand-ins for non-finite floats while encoding: no stored string can know this token.
_STAND_IN = {name: f"\0{secrets.token_hex(16)}:{name}\0" for name in _NON_FINITE_TEXT}


def json_text(value: Any, *, canonical: bool = False) -> JSONText:
    """``value`` as compact JSON; ``canonical`` sorts keys so equal values give equal text.

    Raises TypeError (or ValueError) for values JSON cannot represent.
    """
    return JSONText(_encode(_CANONICAL if canonical else _COMPACT, value))


def json_text_with_member(value: Mapping[str, Any], key: str) -> tuple[JSONText, str | None]:
    """``json_text(value)``, and the text of its member ``key`` as plain JSON writes it.

    Plain JSON is ``json.dumps(member, ensure_ascii=False, separators=(",", ":"))``;
    so a member is encoded once for both (the feed's text of an entity is the
    ``entity`` of its stored document). The member's text is None, and ``value``
    encoded whole, when it would be written otherwise there: it holds a
    non-finite float or a mapping that is no dict, or ``value`` holds another
    non-finite float. The value's text is always ``json_text(value)``'s: the C
    encoder writes an object's members one after the other, each as it would
    alone, and the same text is made storable as a whole.
    """
    if type(value) is dict and key in value:  # a plain dict: encoded as its items are
        try:
            member = _PLAIN(value[key])
            keys = list(value)
            at = keys.index(key)
            before = _COMPACT({k: value[k] for k in keys[:at]})
            after = _COMPACT({k: value[k] for k in keys[at + 1 :]})
        except (TypeError, ValueError):
            pass  # encoded whole below: it raises, or writes its non-finite floats
        else:
            parts = (before[1:-1], f"{_COMPACT(key)}:{member}", after[1:-1])
            text = "{" + ",".join(part for part in parts if part) + "}"
            return JSONText(_storable_json(text)), member
    return json_text(value), None


def dump_json(value: Any) -> str:
    """The engine's serialiser for JSON columns: :class:`JSONText` passes through."""
    if isinstance(value, JSONText):
        return str(value)
    return _encode(_COMPACT, value)


def load_json(text: str | bytes) -> Any:
    """The engine's deserialiser for JSON columns: reads what :func:`json_text` wrote."""
    return json.loads(text, parse_float=_read_float)


def _read_float(text: str) -> float:
    found = _NON_FINITE_READ.get(text)
    return float(text) if found is None else found


def _encode(encode: Callable[[Any], str], value: Any) -> str:
    try:
        return _storable_json(encode(value))
    except ValueError:
        if not _has_non_finite(value):
            raise
    text = encode(_stand_ins(value))
    for name, stand_in in _STAND_IN.items():
        text = text.replace(encode(stand_in), _NON_FINITE_TEXT[name])
    return _storable_json(text)


# A JSON ``\u0000`` escape: after an even number of backslashes (an odd one escapes it).
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _storable_json(text: str) -> str:
    """JSON text every store takes: a NUL (PostgreSQL's JSON operators refuse its
    ``\\u0000``) and a lone surrogate (no UTF-8 can hold one) become visible text,
    ``\\u0000`` and ``\\ud800``. The sources refuse such input with a finding; this
    is the guard behind them (a plugin's source, a message quoting input), so that one
    value never fails every commit."""
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            text = _SURROGATE.sub(lambda found: f"\\\\u{ord(found.group()):04x}", text)
    if "\\u0000" in text:
        text = _NUL_ESCAPE.sub(r"\1\\\\u0000", text)
    return text


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, Mapping):
        return any(_has_non_finite(k) or _has_non_finite(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_non_finite(item) for item in value)
    return False


def _stand_ins(value: Any) -> Any:
    """``value`` with each non-finite float replaced by its stand-in string.

    A non-finite mapping key becomes the text the encoder always gave it (``NaN``).
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else _STAND_IN[repr(value)]
    if isinstance(value, Mapping):
        return {_key(k): _stand_ins(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_stand_ins(item) for item in value]
    return value


def _key(key: Any) -> Any:
    if isinstance(key, float) and not math.isfinite(key):
        return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[repr(key)]
    return key


def parse_url(url: str) -> URL:
    """The parsed URL; a malformed one is refused without echoing it (it may hold a password)."""
    try:
        return sa.make_url(url)
    except (exc.ArgumentError, ValueError) as error:
        raise StoreError("the database URL cannot be parsed") from error


def redacted(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def create_engine(url: URL, *, busy_timeout: float = BUSY_TIMEOUT) -> Engine:
    """An engine for ``url`` with trueup's settings for its backend."""
    try:
        if url.get_backend_name() == "sqlite":
            engine = sa.create_engine(url, json_serializer=dump_json, json_deserializer=load_json)
            _tune_sqlite(engine, int(busy_timeout * 1000))
        else:
            engine = sa.create_engine(
                url, json_serializer=dump_json, json_deserializer=load_json, pool_pre_ping=True
            )
    except (exc.SQLAlchemyError, ImportError) as error:
        raise StoreError(f"cannot use database {redacted(url)}: {_reason(error, url)}") from error
    event.listen(engine, "before_cursor_execute", _redact_parameters, retval=True)
    return engine


def _redact_parameters(
    _conn: Connection,
    _cursor: Any,
    statement: str,
    parameters: Any,
    _context: Any,
    executemany: bool,
) -> tuple[str, Any]:
    """Every string written passes through the redaction layer: no secret is ever stored.

    Rows with nothing to mask are passed on as they are (no copy of a bulk write).
    """
    if statement.lstrip()[:6].upper() not in ("INSERT", "UPDATE"):
        return statement, parameters
    if not executemany:
        return statement, _redacted_row(parameters)
    return statement, redacted_rows(parameters)


def redacted_rows(rows: Sequence[Any]) -> Sequence[Any]:
    """``rows`` themselves when no value in them has anything to mask, else a masked copy.

    For a write that bypasses the cursor hook (``COPY`` in :mod:`trueup.store.bulk`).
    """
    copied = None
    for start in range(0, len(rows), _CHECKED_TOGETHER):
        if _all_clean(rows[start : start + _CHECKED_TOGETHER]):
            continue  # the common case: nothing in these rows to mask
        for index in range(start, min(start + _CHECKED_TOGETHER, len(rows))):
            row = rows[index]
            redacted_row = _redacted_row(row)
            if redacted_row is not row:
                copied = copied if copied is not None else list(rows)
                copied[index] = redacted_row
    return rows if copied is None else copied


_CHECKED_TOGETHER = 256  # rows of a bulk write whose strings are checked as one text


def _all_clean(rows: Sequence[Any]) -> bool:
    """Whether no string in ``rows`` has anything to mask, checked as one text.

    The strings are joined with newlines: a newline ends a URL for the redaction
    rule as the end of a string does, and a secret is found across two strings
    only if it holds a newline itself (then the rows are checked one by one). So
    this is True only when redacting each string on its own would change none.
    """
    if all(isinstance(row, tuple | list) for row in rows):  # a bulk insert's (bulk.py)
        values = [v for row in rows for v in row]
    elif all(isinstance(row, dict | tuple | list) for row in rows):
        values = [v for row in rows for v in (row.values() if isinstance(row, dict) else row)]
    else:
        return False  # a shape _redacted_row passes on as it is
    if "psycopg.types.json" in sys.modules:  # see _driver_json
        texts = [text for v in values if (text := _text(v)) is not None]
    else:  # SQLite: only strings are stored as text
        texts = [v for v in values if isinstance(v, str)]
    joined = "\n".join(texts)
    return redact_stored(joined) is joined and storable(joined)


def _redacted_row(row: Any) -> Any:
    """``row`` itself when none of its strings changes, else a redacted copy."""
    if isinstance(row, dict):
        changed = {k: masked for k, v in row.items() if (masked := _masked(v)) is not v}
        return {**row, **changed} if changed else row
    if isinstance(row, tuple | list):
        values = [_masked(v) for v in row]
        if all(new is old for new, old in zip(values, row, strict=True)):
            return row
        return type(row)(values)
    return row


def _driver_json(value: Any) -> bool:
    """Whether ``value`` is psycopg's JSON parameter (``Json``, ``Jsonb``).

    SQLAlchemy hands a JSON column's value to psycopg in one, and psycopg
    serialises it (with :func:`dump_json`) only after this hook has run. psycopg
    is not imported for SQLite (it takes 0.12 s), and then no value is one.
    """
    module = sys.modules.get("psycopg.types.json")
    return module is not None and isinstance(value, module.Json | module.Jsonb)


def _text(value: Any) -> str | None:
    """The text a parameter is stored as, if it is stored as text (a string or JSON)."""
    if isinstance(value, str):
        return value
    if _driver_json(value):
        return dump_json(value.obj)
    return None


def _masked(value: Any) -> Any:
    """``value`` itself when redaction changes nothing in it, else its redacted form.

    A string is also made storable: a NUL or a lone surrogate (in a message quoting
    input) is written as visible text (``\\0``, ``\\ud800``) instead of failing the
    commit; JSON is made storable when it is encoded (:func:`_storable_json`).
    """
    if isinstance(value, str):
        masked = redact_stored(value)
        return masked if storable(masked) else show_unstorable(masked)
    if _driver_json(value):
        text = dump_json(value.obj)
        masked = redact_stored(text)
        return value if masked is text else type(value)(JSONText(masked))
    return value


# A commit that writes many rows (a cold sync, a source read for the first time) has
# a page cache of WRITER_CACHE_KIB instead of SQLite's 2,000 KiB: the indexes it adds
# to in no order (terms, refs) stay in memory instead of spilling to the log and being
# read back. A cold sync's rows of 100,000 entities are written in 11.5 s instead of
# 13.7 s (bench/store_writes.py); 64 MiB wrote no faster. A commit of a few rows keeps
# the small cache, so a sync that changed little holds no more memory than it touches.
BULK_ROWS = 10_000
WRITER_CACHE_KIB = 16_384


@contextmanager
def bulk_cache(conn: Connection) -> Iterator[None]:
    """Around a write transaction of many rows on ``conn``: SQLite's page cache is
    ``WRITER_CACHE_KIB``, then the pooled connection's own again."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.dbapi_connection
    assert raw is not None
    (own,) = raw.execute("PRAGMA cache_size").fetchone()
    raw.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size = {int(own)}")


def _tune_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the "begin" listener below issues BEGIN
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def serialise_writers(connection: Connection) -> None:
    """Let one commit or migration run at a time, across processes and replicas.

    SQLite's ``BEGIN IMMEDIATE`` already does; on PostgreSQL this takes an
    advisory lock that ends with the transaction.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_COMMIT_LOCK)))


def retry_while_locked(what: str, url: URL, attempt: Callable[[], T], *, timeout: float) -> T:
    """Run ``attempt`` (one whole write transaction) until it is not refused as locked.

    SQLite lets one writer in at a time; a second writer waits ``busy_timeout``
    inside SQLite, then gets ``database is locked`` with its transaction rolled
    back, so trying the whole transaction again is safe. It is tried again,
    waiting a little longer each time, for ``timeout`` seconds in all; after
    that :class:`StoreLockedError` says so (the CLI exits 2: nothing was written).
    """
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            return attempt()
        except exc.OperationalError as error:
            if not _is_locked(error):
                raise
            if time.monotonic() + delay > deadline:
                raise StoreLockedError(
                    f"{what} failed on {redacted(url)}: the database stayed locked by another "
                    f"writer for {timeout:g} s; nothing was written"
                ) from error
            log.info("%s: the database is locked by another writer; waiting", what)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def _is_locked(error: exc.OperationalError) -> bool:
    text = str(getattr(error, "orig", error)).lower()
    return "database is locked" in text or "database table is locked" in text


@contextmanager
def translated(what: str, url: URL) -> Iterator[None]:
    """Turn database errors raised inside the block into :class:`StoreError`."""
    try:
        yield
    except StoreError:
        raise
    except exc.SQLAlchemyError as error:
        raise StoreError(f"{what} failed on {redacted(url)}: {_reason(error, url)}") from error


def _reason(error: BaseException, url: URL) -> str:
    """A one-line reason from the driver's error, without SQL, parameters or password."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    text = f"{type(cause).__name__}: {lines[0] if lines else ''}".strip()
    if url.password:
        text = text.replace(str(url.password), "***")
    return text[:500]
