"""`insert_rows(conn, table, rows)`, `insert_returning(...)` (PostgreSQL) and
`delete_keys(conn, table, keys)`: many rows in the connection's transaction, sent by the driver.

For the search index's rows, and on PostgreSQL the import's versions: through SQLAlchemy's
executemany each row cost ~40 µs of Python (an AuditEvent of a 50-entry page has ~100 index rows,
an import batch thousands), more than the database's own work; its multi-row VALUES insert of the
versions was a long statement that psycopg parsed again for every batch.

- PostgreSQL: one `INSERT ... SELECT * FROM unnest(<one array per column>)`: one statement and
  one parameter per column whatever the count. The arrays go in psycopg's binary format (`%b`):
  it dumps them in C, where the text format escapes every element in Python (a 500-row batch of
  assessments: 7 ms of client CPU in binary, 740 ms in text; a multi-row VALUES, 25 ms, and
  the server's work is least in binary too). Row by row, even pipelined, the import's client
  spent twice the CPU. The arrays are cast to the columns' base types (VARCHAR, not
  VARCHAR(64)): an explicit cast to a length would cut a long value, where the insert must
  refuse it. Not COPY: an interrupted COPY (Ctrl-C during a statement on the thread that
  receives it) ends as a query error, not as the interrupt.
- SQLite: the driver's executemany (in-process: there are no round trips to save).
"""
from __future__ import annotations

import re

from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError

_LENGTH = re.compile(r"\(\d+\)")


def insert_rows(conn: Connection, table: Table, rows: list[dict]) -> None:
    if not rows:
        return
    columns = [c.name for c in table.columns]
    if conn.dialect.name == "postgresql":
        _run(conn, _unnest(conn, table, columns), [[row.get(c) for row in rows] for c in columns])
    else:
        names = ", ".join(columns)
        _run(conn, f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' for _ in columns)})",
             [tuple(row.get(c) for c in columns) for row in rows], many=True)


def insert_returning(conn: Connection, table: Table, columns: list[str], rows: list[dict],
                     returning: list[str]) -> list[tuple]:
    """PostgreSQL only: `rows` (their `columns`) inserted in one statement; the `returning` columns
    of each inserted row, in no promised order (match them to the rows by a key among them)."""
    sql = f"{_unnest(conn, table, columns)} RETURNING {', '.join(returning)}"
    return _run(conn, sql, [[row.get(c) for row in rows] for c in columns], fetch=True)


def _unnest(conn: Connection, table: Table, columns: list[str]) -> str:
    arrays = ", ".join(f"%b::{_base_type(table.c[c], conn)}[]" for c in columns)
    return f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"


def delete_keys(conn: Connection, table: Table, keys: list[tuple[str, str]]) -> None:
    """The rows of each (res_type, res_id) in `keys`."""
    if keys:
        mark = "%s" if conn.dialect.name == "postgresql" else "?"
        _run(conn, f"DELETE FROM {table.name} WHERE res_type = {mark} AND res_id = {mark}", keys, many=True)


def _run(conn: Connection, sql: str, params, *, many: bool = False, fetch: bool = False) -> list[tuple]:
    dbapi_error = conn.dialect.loaded_dbapi.Error
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.executemany(sql, params) if many else cursor.execute(sql, params)
        return cursor.fetchall() if fetch else []
    except dbapi_error as exc:
        # As SQLAlchemy would raise it (IntegrityError, OperationalError, ...): the write unit
        # retries a lost race on a key, and callers catch one family of errors.
        raise DBAPIError.instance(sql, None, exc, dbapi_error, dialect=conn.dialect) from exc
    finally:
        cursor.close()


def _base_type(column, conn: Connection) -> str:
    return _LENGTH.sub("", column.type.compile(dialect=conn.dialect))
