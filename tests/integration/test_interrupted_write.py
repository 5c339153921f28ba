"""An interrupt (Ctrl-C, SIGTERM) in the middle of a write goes on as itself, writes nothing, and
leaves the store usable, even when the interrupted statement left the connection busy."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from adapter.storage.engine import writing
from adapter.storage.schema import resource

ROW = dict(res_type="Task", res_id="t1", version_id=1, seq=1, last_updated="2026-11-01T00:00:00.000Z",
           deleted=False, content="{}", owner_org=None, security=None)


def _rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(resource)).scalar_one()


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_mid_statement_is_raised_as_itself_and_nothing_is_written(engine, interrupt):
    with pytest.raises(interrupt):
        with writing(engine) as conn:
            conn.execute(resource.insert(), ROW)
            if engine.dialect.name == "postgresql":
                # As a signal arriving while a statement runs: the query is sent, its result never read,
                # so the rollback that follows finds the connection busy.
                conn.connection.driver_connection.pgconn.send_query(b"SELECT pg_sleep(0.2)")
            raise interrupt()
    assert _rows(engine) == 0
    with writing(engine) as conn:  # the store is usable: the busy connection was dropped
        conn.execute(resource.insert(), ROW)
    assert _rows(engine) == 1


def test_a_store_error_during_rollback_without_an_interrupt_is_still_raised(engine):
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError):
        with writing(engine) as conn:
            conn.execute(resource.insert(), ROW)
            conn.execute(resource.insert(), ROW)  # the same key twice
    assert _rows(engine) == 0
