"""The repository on both stores: migrations, atomic write units, history ordering."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from adapter.outcomes import OperationOutcomeError
from adapter.storage import Repository, make_engine, migrate
from adapter.storage.schema import SCHEMA_VERSION, resource, schema_state


@pytest.fixture
def repo(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    yield Repository(engine)
    engine.dispose()


def test_migrate_twice_changes_nothing(database_url):
    engine = make_engine(database_url)
    assert migrate(engine) == SCHEMA_VERSION
    tables_before = sorted(inspect(engine).get_table_names())
    assert migrate(engine) == SCHEMA_VERSION
    assert sorted(inspect(engine).get_table_names()) == tables_before
    with engine.connect() as conn:
        assert conn.execute(select(schema_state.c.version)).scalar_one() == SCHEMA_VERSION
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_url):
    engine = make_engine(sqlite_url, busy_timeout_ms=1234)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
    engine.dispose()


def test_a_failing_write_unit_leaves_nothing_behind(repo):
    def work(unit):
        unit.put("Task", "T1", {"resourceType": "Task", "status": "draft", "intent": "plan"})
        unit.put("Task", "T2", {"resourceType": "Task", "status": "draft", "intent": "plan"})
        raise RuntimeError("the third write failed")

    with pytest.raises(RuntimeError):
        repo.write_unit(work)
    assert repo.read("Task", "T1") is None and repo.read("Task", "T2") is None
    assert repo.history_total() == 0


def test_if_match_conflict_inside_a_unit_rolls_back_earlier_writes(repo):
    repo.put("Task", "T1", {"resourceType": "Task", "status": "draft", "intent": "plan"})

    def work(unit):
        unit.put("Task", "T2", {"resourceType": "Task", "status": "draft", "intent": "plan"})
        unit.put("Task", "T1", {"resourceType": "Task", "status": "ready", "intent": "plan"}, if_match=9)

    with pytest.raises(OperationOutcomeError) as raised:
        repo.write_unit(work)
    assert raised.value.status == 412
    assert repo.read("Task", "T2") is None
    assert repo.read("Task", "T1").version_id == 1


def test_versions_carry_meta_and_history_is_newest_first(repo):
    first = repo.put("Task", "T1", {"resourceType": "Task", "status": "draft", "intent": "plan"})
    second = repo.put("Task", "T1", {"resourceType": "Task", "status": "ready", "intent": "plan"})
    assert (first.created, second.created) == (True, False)
    body = repo.read("Task", "T1").resource()
    assert body["meta"]["versionId"] == "2" and body["id"] == "T1"
    assert [v.version_id for v in repo.history(resource_type="Task", id_="T1")] == [2, 1]
    assert repo.read_version("Task", "T1", 1).resource()["status"] == "draft"


def test_current_table_holds_one_row_per_resource(repo, database_url):
    for n in range(3):
        repo.put("Task", "T1", {"resourceType": "Task", "status": "draft", "intent": "plan", "priority": ["routine", "urgent", "asap"][n]})
    with repo.engine.connect() as conn:
        assert len(conn.execute(select(resource)).all()) == 1


def test_iter_current_streams_live_versions_in_id_order(repo):
    for n in range(7):
        repo.put("Task", f"T{n}", {"resourceType": "Task", "status": "draft", "intent": "plan"})
    repo.put("Task", "T3", None)
    ids = [v.id for v in repo.iter_current("Task", batch=2)]
    assert ids == ["T0", "T1", "T2", "T4", "T5", "T6"]
    assert "T3" in [v.id for v in repo.iter_current("Task", batch=2, include_deleted=True)]


def test_current_ids_are_the_live_ids_of_a_type_or_none_beyond_the_limit(repo):
    for n in range(4):
        repo.put("Task", f"T{n}", {"resourceType": "Task", "status": "draft", "intent": "plan"})
    repo.put("Task", "T3", None)
    repo.put("Consent", "C1", {"resourceType": "Consent", "status": "active"})
    assert repo.current_ids("Task", limit=3) == {"T0", "T1", "T2"}
    assert repo.current_ids("Task", limit=2) is None
    assert repo.current_ids("Organization", limit=2) == frozenset()


def test_upgrading_a_store_from_before_the_search_index_backfills_it(database_url):
    from sqlalchemy import select as sa_select

    from adapter.search.engine import SearchEngine
    from adapter.search.query import parse_search
    from adapter.storage.engine import writing
    from adapter.storage.schema import MIGRATIONS, schema_state
    from adapter.store import SEARCH_INDEX_SINCE, open_repository
    from tests.conftest import make_config

    from adapter.storage.schema import metadata

    engine = make_engine(database_url)
    with writing(engine) as conn:  # a store as release 2 left it: no index tables yet
        metadata.drop_all(conn)
        schema_state.create(conn)
        for step in MIGRATIONS[:SEARCH_INDEX_SINCE - 1]:
            step(conn)
        conn.execute(schema_state.insert().values(id=1, version=SEARCH_INDEX_SINCE - 1))
    Repository(engine).put("Organization", "A81001", {"resourceType": "Organization", "name": "Densham"})
    engine.dispose()
    repo = open_repository(make_config(database_url))
    search = SearchEngine(repo, "http://fhir.test/fhir")
    with repo.engine.connect() as conn:
        assert search.matching_ids(parse_search("Organization", (("name", "dens"),)), conn, 5) == ["A81001"]
        assert conn.execute(sa_select(schema_state.c.version)).scalar_one() == len(MIGRATIONS)
    repo.engine.dispose()


def test_the_generation_of_types_is_their_newest_version_in_one_statement(repo):
    from tests.helpers import organization, task

    assert repo.generation([]) == 0 and repo.generation(["Task", "Organization"]) == 0
    repo.put("Organization", "A81001", organization())
    orgs = repo.generation(["Organization"])
    assert orgs > 0 and repo.generation(["Task"]) == 0
    assert repo.generation(["Task", "Organization", "Consent"]) == orgs
    repo.put("Task", "A-1", task("A-1"))
    assert repo.generation(["Organization"]) == orgs  # another type's write changes nothing here
    both = repo.generation(["Organization", "Task"])
    assert both > orgs and both == repo.generation(["Task"])
    repo.put("Organization", "A81001", organization(name="RENAMED"))
    assert repo.generation(["Task", "Organization"]) > both


def test_add_new_writes_what_put_writes_and_skips_stored_ids(database_url):
    """The audit trail's batch write: the same version, current row and index rows as `put`,
    each id once, ids already stored left alone (a replayed batch is harmless)."""
    from sqlalchemy import text

    from adapter.enforcement.columns import access_columns
    from adapter.search.index_store import SearchIndexer
    from adapter.storage.schema import INDEX_TABLES

    engine = make_engine(database_url)
    migrate(engine)
    repo = Repository(engine, access=access_columns, indexer=SearchIndexer("http://x/fhir"))

    def event(id_):
        return {"resourceType": "AuditEvent", "id": id_, "recorded": "2026-11-02T10:00:00Z",
                "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
                "agent": [{"requestor": True, "who": {"identifier": {"value": "c1"}}}],
                "source": {"observer": {"display": "dthub"}},
                "entity": [{"what": {"reference": f"Task/T-{n}"}} for n in range(3)] +
                          [{"what": {"reference": "Organization/A81001"}}]}

    repo.put("AuditEvent", "ae-1", event("ae-1"))
    written = repo.write_unit(lambda unit: unit.add_new("AuditEvent", [event("ae-1"), event("ae-2"), event("ae-2"),
                                                                        event("ae-3")]))
    assert written == 2
    assert repo.write_unit(lambda unit: unit.add_new("AuditEvent", [event("ae-3")])) == 0  # a replay
    first, second = repo.read("AuditEvent", "ae-1"), repo.read("AuditEvent", "ae-2")
    assert second.version_id == 1 and second.seq > first.seq
    strip = lambda r: {k: v for k, v in r.items() if k not in ("id", "meta")}  # noqa: E731
    assert strip(first.resource()) == strip(second.resource())
    assert second.resource()["meta"]["versionId"] == "1"
    with engine.connect() as conn:
        for table in INDEX_TABLES.values():
            rows = {i: sorted(tuple(v for k, v in r._mapping.items() if k != "res_id") for r in conn.execute(
                table.select().where(table.c.res_id == i))) for i in ("ae-1", "ae-2")}
            assert rows["ae-1"] == rows["ae-2"], table.name
        access = conn.execute(text("SELECT res_id, owner_org, security FROM resource WHERE res_type = 'AuditEvent' "
                                   "ORDER BY res_id")).all()
        versions = conn.execute(text("SELECT count(*) FROM resource_version WHERE res_type = 'AuditEvent'")).scalar()
    assert [a[1:] for a in access[:2]] == [access[0][1:]] * 2 and versions == 3
    engine.dispose()


def _has_statistics(engine) -> bool:
    from sqlalchemy import text

    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            return conn.execute(text("SELECT count(*) FROM pg_stats WHERE tablename = 'resource'")).scalar() > 0
        if not conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")).scalar():
            return False
        return conn.execute(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'resource'")).scalar() > 0


def _forget_statistics(engine) -> None:
    """The PostgreSQL test database is shared and truncated between tests; statistics outlive a TRUNCATE."""
    if engine.dialect.name == "sqlite" and not _has_statistics(engine):
        return  # never analyzed: no sqlite_stat1 yet
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM pg_statistic WHERE starelid = 'resource'::regclass"
                             if engine.dialect.name == "postgresql" else "DELETE FROM sqlite_stat1")


def test_a_store_that_grows_through_the_repository_is_analyzed_on_the_way(database_url):
    """A bulk load into an empty store must not run on plans made for an empty table: the
    repository refreshes the statistics at 1,000 new resources, then at each fourfold growth."""
    from tests.helpers import organization

    engine = make_engine(database_url)
    migrate(engine)
    _forget_statistics(engine)
    repo = Repository(engine)
    bodies = lambda start, n: [dict(organization(), id=f"O{k}") for k in range(start, start + n)]  # noqa: E731
    repo.write_unit(lambda unit: unit.add_new("Organization", bodies(0, 998)))
    repo.put("Organization", "O998", organization())
    repo.put("Organization", "O0", organization(name="AN UPDATE IS NOT GROWTH"))
    assert not _has_statistics(engine)
    repo.put("Organization", "O999", organization())  # the 1,000th new resource
    assert _has_statistics(engine)
    _forget_statistics(engine)  # the next refresh is due at 4,000
    repo.write_unit(lambda unit: unit.add_new("Organization", bodies(1000, 2999)))
    assert not _has_statistics(engine)
    repo.write_unit(lambda unit: unit.add_new("Organization", bodies(3999, 1)))
    assert _has_statistics(engine)

    # A repository opened on a store of 4,000 (a server's, whose audit trail grows it slowly)
    # waits until the store has doubled.
    later = Repository(engine)
    _forget_statistics(engine)
    later.write_unit(lambda unit: unit.add_new("Organization", bodies(4000, 3999)))
    assert not _has_statistics(engine)
    later.put("Organization", "O7999", organization())
    assert _has_statistics(engine)
    engine.dispose()


def test_put_many_writes_what_puts_in_turn_write(database_url):
    """The import's batch write: versions, current rows, index rows and results as the same
    puts one by one, including a key twice, deletions, unchanged and new resources."""
    import orjson
    from sqlalchemy import text

    from adapter.enforcement.columns import access_columns
    from adapter.search.index_store import SearchIndexer
    from adapter.storage.schema import INDEX_TABLES
    from tests.helpers import organization, task

    engine = make_engine(database_url)
    migrate(engine)
    repo = Repository(engine, access=access_columns, indexer=SearchIndexer("http://x/fhir"))
    tables = ("resource", "resource_version", *(t.name for t in INDEX_TABLES.values()))
    items = [
        ("Organization", "A81001", organization(name="RENAMED"), "PUT"),  # update
        ("Task", "T-new", task("T-new"), "PUT"),  # create
        ("Task", "T-same", task("T-same"), "PUT"),  # unchanged
        ("Organization", "A81002", None, "DELETE"),  # delete
        ("Task", "T-missing", None, "DELETE"),  # nothing to delete
        ("Task", "T-gone", task("T-gone"), "PUT"),  # re-created after a deletion
        ("Task", "T-new", task("T-new", practice="A81002"), "PUT"),  # the same key again
        ("Organization", "A81001", organization(name="RENAMED"), "PUT"),  # again, now unchanged
        ("Task", "T-twice", task("T-twice"), "PUT"),
        ("Task", "T-twice", None, "DELETE"),  # created and deleted in one batch
    ]

    def content(stored):  # without lastUpdated: written at different instants
        if stored is None:
            return None
        body = orjson.loads(stored)
        body["meta"].pop("lastUpdated")
        return body

    def run(write):
        with engine.begin() as conn:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))
        repo.put("Organization", "A81001", organization())
        repo.put("Organization", "A81002", organization("A81002"))
        repo.put("Task", "T-gone", task("T-gone"))
        repo.put("Task", "T-gone", None)
        repo.put("Task", "T-same", task("T-same"))
        results = repo.write_unit(write)
        state = {}
        with engine.connect() as conn:
            for table in ("resource", "resource_version"):
                rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY res_type, res_id, version_id")).mappings()
                state[table] = [{k: content(v) if k == "content" else v for k, v in r.items()
                                 if k not in ("last_updated", "seq")} for r in rows]
            for table in INDEX_TABLES.values():
                state[table.name] = sorted(tuple(map(str, r)) for r in conn.execute(table.select()))
        return state, [(r.created, r.changed, r.version.resource_type, r.version.id, r.version.version_id,
                        r.version.deleted, r.version.method, content(r.version.content), r.version.seq > 0)
                       for r in results]

    singles = run(lambda unit: [unit.put(t, i, b, method=m, skip_unchanged=True) for t, i, b, m in items])
    batched = run(lambda unit: unit.put_many(items, skip_unchanged=True))
    assert batched[0] == singles[0]
    assert batched[1] == singles[1]
    assert any(len(rows) for name, rows in singles[0].items() if name.startswith("idx_"))
    engine.dispose()


def test_an_import_batch_counts_towards_the_growth_that_refreshes_statistics(database_url):
    from tests.helpers import organization

    engine = make_engine(database_url)
    migrate(engine)
    _forget_statistics(engine)
    repo = Repository(engine)
    repo.write_unit(lambda unit: unit.put_many([("Organization", f"O{k}", dict(organization(), id=f"O{k}"), "PUT")
                                                for k in range(999)]))
    assert not _has_statistics(engine)
    repo.write_unit(lambda unit: unit.put_many([("Organization", "O0", organization(name="CHANGED"), "PUT"),
                                                ("Organization", "O999", organization(), "PUT")]))
    assert _has_statistics(engine)
    engine.dispose()
