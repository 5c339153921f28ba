"""insert_rows: many rows in one statement (PostgreSQL) or one executemany (SQLite), exactly as
single inserts would store them, long values refused rather than cut."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from adapter.storage import make_engine, migrate
from adapter.storage.rows import insert_rows
from adapter.storage.schema import idx_token, resource


def test_rows_are_stored_as_given_nulls_booleans_and_text_included(engine):
    rows = [dict(res_type="Task", res_id=f"t{n}", version_id=n + 1, seq=1000 + n, last_updated="2026-11-01T00:00:00.000Z",
                 deleted=n % 2 == 1, content=None if n % 2 else '{"ü": "x,y{}\\"q"}', owner_org=None if n == 0 else "A81001",
                 security="actions|practice") for n in range(300)]
    with engine.begin() as conn:
        insert_rows(conn, resource, rows)
        insert_rows(conn, idx_token, [])  # nothing to write: no statement
    with engine.connect() as conn:
        stored = [dict(r._mapping) for r in conn.execute(select(resource).order_by(resource.c.seq))]
    assert [dict(r, deleted=bool(r["deleted"])) for r in stored] == rows


def test_a_duplicate_key_is_the_integrity_error_a_write_unit_retries(engine):
    from sqlalchemy.exc import IntegrityError

    row = dict(res_type="Task", res_id="t1", version_id=1, seq=1, last_updated="2026-11-01T00:00:00.000Z",
               deleted=False, content="{}", owner_org=None, security=None)
    with engine.begin() as conn:
        insert_rows(conn, resource, [row])
    with pytest.raises(IntegrityError):
        with engine.begin() as conn:
            insert_rows(conn, resource, [dict(row, seq=2)])


def test_a_value_too_long_for_its_column_is_refused_not_cut(pg_database_url):
    """PostgreSQL only: SQLite does not enforce VARCHAR lengths."""
    from tests.conftest import _clean_pg

    _clean_pg(pg_database_url)
    engine = make_engine(pg_database_url)
    migrate(engine)
    row = dict(res_type="Task", res_id="x" * 65, param="status", system="", code="ready", text_norm=None)
    with pytest.raises(DBAPIError):
        with engine.begin() as conn:
            insert_rows(conn, idx_token, [row])
    with engine.connect() as conn:
        assert conn.execute(select(idx_token)).all() == []
    engine.dispose()
