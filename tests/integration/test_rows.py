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


def test_insert_returning_gives_each_row_its_generated_key(pg_database_url):
    """PostgreSQL only (SQLite's versions go through SQLAlchemy): the returned rows name the
    row they belong to, the same key twice at two versions included, and large JSON documents
    with quotes and backslashes arrive unchanged."""
    from tests.conftest import _clean_pg

    from adapter.storage.rows import insert_returning
    from adapter.storage.schema import resource_version

    _clean_pg(pg_database_url)
    engine = make_engine(pg_database_url)
    migrate(engine)
    columns = [c.name for c in resource_version.columns if c.name != "seq"]
    document = '{"text": "' + 'a \\"quoted\\" \\\\ back ' * 500 + '"}'
    rows = [dict(res_type="Task", res_id=f"t{n % 150}", version_id=n // 150 + 1, last_updated="2026-11-01T00:00:00.000Z",
                 method="PUT", deleted=n == 7, content=None if n == 7 else document, owner_org=None if n % 3 else "A81001",
                 security="actions|practice") for n in range(300)]
    with engine.begin() as conn:
        returned = insert_returning(conn, resource_version, columns, rows, ["res_type", "res_id", "version_id", "seq"])
    seq_of = {(t, i, v): seq for t, i, v, seq in returned}
    assert len(seq_of) == len(rows) == len(set(seq_of.values()))
    with engine.connect() as conn:
        stored = {r.seq: dict(r._mapping) for r in conn.execute(select(resource_version))}
    for row in rows:
        assert {k: v for k, v in stored[seq_of[(row["res_type"], row["res_id"], row["version_id"])]].items()
                if k != "seq"} == row
    engine.dispose()


def test_a_nul_character_is_refused_as_a_driver_error(pg_database_url):
    """PostgreSQL text cannot hold NUL: the whole statement fails as a DBAPIError (the write
    unit rolls back) instead of storing part of the batch."""
    from tests.conftest import _clean_pg

    _clean_pg(pg_database_url)
    engine = make_engine(pg_database_url)
    migrate(engine)
    rows = [dict(res_type="Task", res_id="t1", param="status", system="", code="ready", text_norm=None),
            dict(res_type="Task", res_id="t2", param="status", system="", code="re\x00ady", text_norm=None)]
    with pytest.raises(DBAPIError):
        with engine.begin() as conn:
            insert_rows(conn, idx_token, rows)
    with engine.connect() as conn:
        assert conn.execute(select(idx_token)).all() == []
    engine.dispose()
