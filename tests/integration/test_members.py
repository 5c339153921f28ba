"""`one_of`: membership in a long list as one bound parameter, on both stores, exactly like IN."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from adapter.storage import make_engine, migrate
from adapter.storage.members import one_of
from adapter.storage.schema import resource


OWNERS = [None, "A81001", "A81002", "O'Brien", 'quote"d', "comma,brace{}", "ünïcode"]


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(resource.insert(), [
            dict(res_type="Task", res_id=f"t{i:02d}", version_id=1, seq=i + 1, last_updated="2026-11-01T00:00:00.000Z",
                 deleted=False, content="{}", owner_org=OWNERS[i % len(OWNERS)], security=None)
            for i in range(35)])
    yield engine
    engine.dispose()


@pytest.mark.parametrize("values", [
    ["A81001"], ["A81001", "O'Brien"], [], ['quote"d', "comma,brace{}", "ünïcode"], ["nobody"],
    [f"X{n}" for n in range(2000)] + ["A81002"],
], ids=["one", "two", "empty", "awkward-text", "no-match", "2001-values"])
def test_one_of_matches_what_in_matches(engine, values):
    def ids(cond):
        with engine.connect() as conn:
            return conn.execute(select(resource.c.res_id).where(cond).order_by(resource.c.seq)).scalars().all()

    expected = [f"t{i:02d}" for i in range(35) if OWNERS[i % len(OWNERS)] in values]  # NULL is in no list
    assert ids(one_of(resource.c.owner_org, values)) == expected == ids(resource.c.owner_org.in_(values))


def test_the_list_is_one_parameter_and_the_statement_is_cached(engine):
    short = select(resource.c.res_id).where(one_of(resource.c.owner_org, ["A81001"]))
    long = select(resource.c.res_id).where(one_of(resource.c.owner_org, [f"X{n}" for n in range(500)]))
    assert len(short.compile(engine).params) == len(long.compile(engine).params) == 1
    assert short._generate_cache_key() == long._generate_cache_key()  # one compiled form for every list
    with engine.connect() as conn:
        assert conn.execute(long).all() == []
        assert len(conn.execute(short).all()) == 5
