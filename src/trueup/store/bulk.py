"""Bulk inserts below SQLAlchemy's per-row parameter handling.

``conn.execute(sa.insert(table), rows)`` builds, for every row, a parameter
dictionary through the compiled statement (``construct_params``) and runs each
value's bind processor from there: at 100,000 entities that bookkeeping costs
about as much as SQLite's own work. :func:`insert_rows` compiles the ``INSERT`` once
for the rows' columns, converts each value with the same bind processor
SQLAlchemy would use (UTC times, JSON columns, booleans, variants per dialect),
and hands the rows to the driver's ``executemany`` through
:meth:`~sqlalchemy.engine.Connection.exec_driver_sql`. The connection's cursor
events still run, so every string still passes the store's redaction hook
(:mod:`trueup.store.engine`).

On PostgreSQL an insert of :data:`COPY_FROM` rows or more is a ``COPY``
(:func:`_copy`), masked by the same redaction; a large insert also refreshes the
table's planner statistics (:func:`_keep_statistics`), inside the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.schema import ColumnCollectionConstraint
from sqlalchemy.types import TypeDecorator

from trueup.store.engine import redacted_rows

# Converts one column of an insert's values (as its bind processor converts each value).
_Converter = Callable[[Sequence[Any]], list[Any]] | None
# By table (the object: two tables may share a name), driver and keys.
_compiled: dict[tuple[sa.Table, type, str, tuple[str, ...]], tuple[str, tuple[str, ...], bool]] = {}


def insert_rows(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """``INSERT`` ``rows`` into ``table`` in one executemany; rows may differ in their keys.

    Each row names its columns by key, as with ``conn.execute(sa.insert(table), rows)``;
    a column a row leaves out gets its default, so rows are grouped by their keys.
    """
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    dialect = conn.dialect
    for keys, group in groups.items():
        statement, order, positional = _statement(dialect, table, keys)
        processors = [_processor(dialect, table.c[key]) for key in order]
        copied = dialect.name == "postgresql" and len(group) >= COPY_FROM
        params: list[Any] = _converted(group, order, processors)
        if not (copied or positional):
            params = [dict(zip(order, values, strict=True)) for values in params]
        if copied:
            _copy(conn, table, order, params)
        else:
            conn.exec_driver_sql(statement, params)
    _keep_statistics(conn, table, len(rows))


# On PostgreSQL a write of this many rows goes through COPY; below it, executemany is as quick.
COPY_FROM = 100


def _copy(conn: Connection, table: sa.Table, order: Sequence[str], rows: list[Any]) -> None:
    """``COPY … FROM STDIN``: PostgreSQL's bulk load, about 6 times faster than executemany.

    The values are those SQLAlchemy's bind processors made, so psycopg writes them
    as it would bind them (JSON through the engine's serialiser). A ``COPY``
    passes no cursor hook, so its rows are masked here; a driver error comes out
    as SQLAlchemy's, as an ``INSERT``'s would.
    """
    preparer = conn.dialect.identifier_preparer
    columns = ", ".join(preparer.quote(table.c[key].name) for key in order)
    statement = f"COPY {preparer.format_table(table)} ({columns}) FROM STDIN"
    masked = redacted_rows(rows)
    driver = conn.connection.driver_connection
    if driver is None:  # invalidated: SQLAlchemy refuses an execute on it likewise
        raise exc.ResourceClosedError("the database connection was invalidated")
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in masked:
                copy.write_row(row)
    except dbapi_error as error:
        raise exc.DBAPIError.instance(
            statement, None, error, dbapi_error, dialect=conn.dialect
        ) from error


# A table is analysed again once this many rows were inserted since, and at least as many as
# it held then: a cold sync analyses each table about log2(rows / 5,000) times.
ANALYZE_AFTER = 5_000
# By open transaction: each table's rows inserted since its last ANALYZE, and its size then.
_grown: WeakKeyDictionary[Any, dict[str, tuple[int, int]]] = WeakKeyDictionary()


def _keep_statistics(conn: Connection, table: sa.Table, count: int) -> None:
    """``ANALYZE`` ``table`` on PostgreSQL when this transaction has grown it a lot.

    PostgreSQL's planner knows a table's rows from its last ``ANALYZE``, and
    autovacuum cannot count the rows of a transaction still open. A cold sync
    fills its tables in one transaction and queries them as it goes (``ref IN
    (...)`` chunks): planned as if the tables were nearly empty, those queries
    scan whole tables, each slower than the last (a 100,000-entity cold sync
    took 257 s, 135 s with this). ``ANALYZE`` in the transaction counts the
    rows it inserted; its column statistics are rolled back with it, the row
    count it writes to ``pg_class`` is not (an estimate either way). It reads
    only the columns an index or key names (:func:`_planned_columns`): the
    planner's choices turn on those, and the others hold the documents, which
    it would decompress to sample (0.42-0.69 s for ``entities`` at 100,000
    entities, against 0.21-0.22 s for its keyed columns).
    """
    transaction = conn.get_transaction()
    if conn.dialect.name != "postgresql" or count == 0 or transaction is None:
        return
    tables = _grown.setdefault(transaction, {})
    since, size = tables.get(table.name) or (0, _estimated_rows(conn, table))
    since += count
    if since >= max(ANALYZE_AFTER, size):
        preparer = conn.dialect.identifier_preparer
        columns = ", ".join(preparer.quote(name) for name in _planned_columns(table))
        conn.exec_driver_sql(f"ANALYZE {preparer.format_table(table)} ({columns})")
        size, since = size + since, 0
    tables[table.name] = (since, size)


def _planned_columns(table: sa.Table) -> list[str]:
    """The columns of ``table`` that its primary key, an index or a constraint names,
    in the table's order."""
    named = {column.name for column in table.primary_key.columns}
    for index in table.indexes:
        named.update(column.name for column in index.columns)
    for constraint in table.constraints:
        if isinstance(constraint, ColumnCollectionConstraint):
            named.update(column.name for column in constraint.columns)
    return [column.name for column in table.c if column.name in named]


def _estimated_rows(conn: Connection, table: sa.Table) -> int:
    """The table's row count as of its last ``ANALYZE`` (0 if never analysed)."""
    query = sa.text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)")
    name = conn.dialect.identifier_preparer.format_table(table)
    found = conn.execute(query, {"name": name}).scalar()
    return max(0, int(found or 0))


def _statement(
    dialect: Dialect, table: sa.Table, keys: tuple[str, ...]
) -> tuple[str, tuple[str, ...], bool]:
    """The ``INSERT`` text for ``keys``, the order its parameters take, and if positional."""
    cache_key = (table, type(dialect), dialect.paramstyle, keys)
    found = _compiled.get(cache_key)
    if found is None:
        compiled = sa.insert(table).compile(dialect=dialect, column_keys=list(keys))
        positional = bool(compiled.positional)
        order = tuple(compiled.positiontup or ()) if positional else keys
        if set(order) != set(keys):  # a column key that is not its bind name
            raise ValueError(f"cannot bulk-insert {table.name} columns {sorted(keys)}")
        found = _compiled[cache_key] = (str(compiled), order, positional)
    return found


def _converted(
    group: Sequence[Mapping[str, Any]], order: Sequence[str], converters: Sequence[_Converter]
) -> list[tuple[Any, ...]]:
    """Each row's values in ``order``, converted as the columns' bind processors convert them.

    Column by column: the rows are read with ``itemgetter`` and turned into columns
    and back with ``zip`` (loops in C), and only the columns with a processor are
    converted; a row-by-row loop in Python cost as much as SQLite's own work.
    """
    read = itemgetter(*order)
    rows = list(map(read, group)) if len(order) > 1 else [(value,) for value in map(read, group)]
    if all(convert is None for convert in converters):
        return rows
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for index, convert in enumerate(converters):
        if convert is not None:
            columns[index] = convert(columns[index])
    return list(zip(*columns, strict=True))


def _processor(dialect: Dialect, column: sa.Column[Any]) -> _Converter:
    """What converts a column of values as SQLAlchemy would bind each; None: nothing to do."""
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return None
    if not _is_time(column):
        return lambda values: list(map(process, values))

    # The rows of one write mostly share a time (the commit's "now"): each distinct one is
    # converted once, in the order of the rows (so a naive one is refused as it was met).
    # Equal aware times are the same instant, so they convert to the same value.
    def once_each(values: Sequence[Any]) -> list[Any]:
        seen = {value: process(value) for value in dict.fromkeys(values)}
        return list(map(seen.__getitem__, values))

    return once_each


def _is_time(column: sa.Column[Any]) -> bool:
    kind = column.type
    if isinstance(kind, TypeDecorator):  # UTCDateTime: its own python_type is object
        kind = kind.impl_instance
    try:
        return kind.python_type is datetime
    except NotImplementedError:
        return False
