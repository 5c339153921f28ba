"""The resource repository: current versions and full history, over SQLAlchemy Core.

Every write runs in one transaction through `Repository.write_unit`, so a batch of writes is all
or nothing; a unit that loses a race (PostgreSQL unique or serialisation conflict) is re-run.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable, Protocol, TypeVar

import orjson
from sqlalchemy import Connection, Engine, and_, bindparam, func, select, text, tuple_
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from ..outcomes import error
from .engine import read_engine, writing
from .members import one_of
from .rows import insert_returning
from .schema import resource, resource_version

T = TypeVar("T")
log = logging.getLogger("dthub.storage")
_FIRST_ANALYZE = 1000

# Columns access control reads; computed from the resource by the caller's `access` function.
AccessColumns = Callable[[dict], tuple[str | None, str | None]]
# A caller's narrowing of `resource_version` rows: (table, resource type or None) -> condition or None.
VersionFilter = Callable[[object, str | None], object]


def _no_access_columns(_resource: dict) -> tuple[None, None]:
    return None, None


def now_instant() -> str:
    """UTC instant with millisecond precision, fixed width, so it orders correctly as text."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class StoredVersion:
    resource_type: str
    id: str
    version_id: int
    last_updated: str
    deleted: bool
    content: str | None
    seq: int
    method: str | None = None

    def resource(self) -> dict:
        if self.content is None:
            raise ValueError("a deleted version has no content")
        return orjson.loads(self.content)


@dataclass(frozen=True)
class WriteResult:
    version: StoredVersion
    created: bool  # there was no live version before this write
    changed: bool  # False when nothing was written (deleting what is already gone, an unchanged update)


# Built once: constructing a SQL expression costs more than running it.
_CURRENT = select(resource).where(and_(resource.c.res_type == bindparam("b_type"),
                                       resource.c.res_id == bindparam("b_id")))
_CURRENT_LOCKED = _CURRENT.with_for_update()
_INSERT_VERSION = resource_version.insert()
_INSERT_CURRENT = resource.insert()
_CURRENT_COLUMNS = [c.name for c in resource.columns]
_COPY_TO_CURRENT = select(*(resource_version.c[name] for name in _CURRENT_COLUMNS))
_INSERT_VERSIONS = resource_version.insert().returning(resource_version.c.seq, sort_by_parameter_order=True)
_VERSION_COLUMNS = [c.name for c in resource_version.columns if c.name != "seq"]
_UPDATE_CURRENT = resource.update().where(and_(resource.c.res_type == bindparam("b_type"),
                                               resource.c.res_id == bindparam("b_id")))
_VREAD = select(resource_version).where(and_(
    resource_version.c.res_type == bindparam("t"), resource_version.c.res_id == bindparam("i"),
    resource_version.c.version_id == bindparam("v")))


def _row_to_stored(row: dict, seq: int) -> StoredVersion:
    return StoredVersion(row["res_type"], row["res_id"], row["version_id"], row["last_updated"], row["deleted"],
                         row["content"], seq, row["method"])


def _row_to_version(row, method: str | None = None) -> StoredVersion:
    return StoredVersion(row.res_type, row.res_id, row.version_id, row.last_updated, bool(row.deleted),
                         row.content, row.seq, method)


def _comparable(resource_: dict) -> dict:
    meta = {k: v for k, v in (resource_.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    body = {k: v for k, v in resource_.items() if k != "meta"}
    if meta:
        body["meta"] = meta
    return body


class Indexer(Protocol):
    def replace(self, conn: Connection, resource_type: str, id_: str, body: dict | None, *,
                fresh: bool = False) -> None: ...

    def add(self, conn: Connection, resource_type: str, bodies: list[dict]) -> None: ...

    def replace_many(self, conn: Connection, items: list[tuple[str, str, dict | None, bool]]) -> None:
        """`replace` for each (resource_type, id, body, fresh), each key once."""


class _NoIndex:
    def add(self, conn, resource_type, bodies) -> None:
        return None

    def replace_many(self, conn, items) -> None:
        return None

    def replace(self, conn, resource_type, id_, body, *, fresh: bool = False) -> None:
        pass


class WriteUnit:
    """The writes of one transaction. Obtained from `Repository.write_unit`, never built directly."""

    def __init__(self, conn: Connection, access: AccessColumns, indexer: Indexer):
        self._conn = conn
        self._access = access
        self._indexer = indexer
        self.created = 0  # resources stored for the first time (the repository's growth count)

    @property
    def connection(self) -> Connection:
        """For queries that must see this transaction's own writes (conditional operations, transactions)."""
        return self._conn

    def serialise_on(self, key: str) -> None:
        """Make transactions that test-then-create on the same key run one at a time.

        SQLite already runs writers one at a time; PostgreSQL cannot lock rows that do not exist
        yet, so racing conditional creates take a transaction-scoped advisory lock instead.
        """
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})

    def current(self, resource_type: str, id_: str, *, lock: bool = True) -> StoredVersion | None:
        query = _CURRENT_LOCKED if lock and self._conn.dialect.name == "postgresql" else _CURRENT
        row = self._conn.execute(query, {"b_type": resource_type, "b_id": id_}).first()
        return _row_to_version(row) if row else None

    def put(self, resource_type: str, id_: str, body: dict | None, *, if_match: int | None = None,
            method: str = "PUT", skip_unchanged: bool = False) -> WriteResult:
        """Store `body` as the next version of Type/id (None deletes). `if_match` is the version the
        caller last saw; a different current version is a 412."""
        before = self.current(resource_type, id_)
        live = before is not None and not before.deleted
        if if_match is not None and (not live or before.version_id != if_match):
            raise error(412, "conflict",
                        f"Version {if_match} of {resource_type}/{id_} is not the current version")
        if body is None and not live:
            return WriteResult(before, created=False, changed=False) if before else _nothing(resource_type, id_)
        if skip_unchanged and live and body is not None and _comparable(before.resource()) == _comparable(body):
            return WriteResult(before, created=False, changed=False)

        row, body = self._version_row(resource_type, id_, body, before, method)
        seq = self._conn.execute(_INSERT_VERSION, row).inserted_primary_key[0]
        version_id, stamp, content = row["version_id"], row["last_updated"], row["content"]
        values = dict(version_id=version_id, seq=seq, last_updated=stamp, deleted=body is None,
                      content=content, owner_org=row["owner_org"], security=row["security"])
        if before is None:
            self._conn.execute(_INSERT_CURRENT, dict(values, res_type=resource_type, res_id=id_))
            self.created += 1
        else:
            self._conn.execute(_UPDATE_CURRENT, dict(values, b_type=resource_type, b_id=id_))
        self._indexer.replace(self._conn, resource_type, id_, body, fresh=before is None)
        stored = StoredVersion(resource_type, id_, version_id, stamp, body is None, content, seq, method)
        return WriteResult(stored, created=not live and body is not None, changed=True)

    def put_many(self, items: list[tuple[str, str, dict | None, str]], *,
                 skip_unchanged: bool = False) -> list[WriteResult]:
        """`put(resource_type, id, body, method=method, skip_unchanged=...)` for each item in turn,
        in a handful of statements whatever the count (the import's batches): one read of the
        current rows, one insert of the versions, the current rows and the index rows in one
        go each. A key given twice is written twice, in order, as two puts would."""
        befores = self._currents({(t, i) for t, i, _body, _method in items})
        stored_before = set(befores)
        results: list[WriteResult | None] = []
        pending: list[tuple] = []  # (index in results, version row, stored body, created)
        # id() of a version this batch writes -> (its index in pending, the version: kept alive so
        # that its id() is not reused)
        unwritten: dict[int, tuple[int, StoredVersion]] = {}
        no_ops: list[tuple[int, int]] = []  # (index in results, index in pending) of a no-op after one
        for resource_type, id_, body, method in items:
            before = befores.get((resource_type, id_))
            live = before is not None and not before.deleted
            if (body is None and not live) or (skip_unchanged and live and body is not None and
                                               _comparable(before.resource()) == _comparable(body)):
                if id(before) in unwritten:  # its seq is known once written
                    no_ops.append((len(results), unwritten[id(before)][0]))
                results.append(WriteResult(before, created=False, changed=False) if before
                               else _nothing(resource_type, id_))
                continue
            row, body = self._version_row(resource_type, id_, body, before, method)
            pending.append((len(results), row, body, not live and body is not None))
            results.append(None)
            befores[(resource_type, id_)] = written = _row_to_stored(row, 0)
            unwritten[id(written)] = (len(pending) - 1, written)
        if pending:
            seqs = self._insert_versions([p[1] for p in pending])
            final: dict[tuple[str, str], tuple[dict, dict | None]] = {}
            for (index, row, body, created), seq in zip(pending, seqs):
                results[index] = WriteResult(_row_to_stored(row, seq), created=created, changed=True)
                final[(row["res_type"], row["res_id"])] = (dict(row, seq=seq), body)
            for index, written in no_ops:  # as `current` would have read it: no method
                row, seq = pending[written][1], seqs[written]
                results[index] = WriteResult(_row_to_stored(dict(row, method=None), seq), created=False,
                                             changed=False)
            inserts = [row["seq"] for key, (row, _body) in final.items() if key not in stored_before]
            updates = [dict({k: v for k, v in row.items() if k != "method"}, b_type=key[0], b_id=key[1])
                       for key, (row, _body) in final.items() if key in stored_before]
            if inserts:
                self._copy_to_current(inserts)
                self.created += len(inserts)
            if updates:
                self._conn.execute(_UPDATE_CURRENT, updates)
            self._indexer.replace_many(self._conn, [(t, i, body, (t, i) not in stored_before)
                                                    for (t, i), (_row, body) in final.items()])
        return results  # type: ignore[return-value]

    def _insert_versions(self, rows: list[dict]) -> list[int]:
        """The rows inserted into resource_version; their seqs, in the rows' order."""
        if self._conn.dialect.name != "postgresql":
            return [r[0] for r in self._conn.execute(_INSERT_VERSIONS, rows)]
        returned = insert_returning(self._conn, resource_version, _VERSION_COLUMNS, rows,
                                    ["res_type", "res_id", "version_id", "seq"])
        seq_of = {(t, i, v): seq for t, i, v, seq in returned}
        return [seq_of[(row["res_type"], row["res_id"], row["version_id"])] for row in rows]

    def _copy_to_current(self, seqs: list[int]) -> None:
        """The current rows of resources stored for the first time, copied by the database from
        the versions just written: their JSON is not sent a second time, and SQLAlchemy does not
        process every row's parameters again (~40 µs a row)."""
        for start in range(0, len(seqs), 5000):
            versions = _COPY_TO_CURRENT.where(one_of(resource_version.c.seq, seqs[start:start + 5000]))
            self._conn.execute(resource.insert().from_select(_CURRENT_COLUMNS, versions))

    def _version_row(self, resource_type: str, id_: str, body: dict | None, before: StoredVersion | None,
                     method: str) -> tuple[dict, dict | None]:
        """The resource_version row a write makes (no seq yet), and the body as stored (meta.versionId,
        meta.lastUpdated and id set)."""
        version_id = before.version_id + 1 if before else 1
        stamp = now_instant()
        content, owner, security = None, None, None
        if body is not None:
            body = dict(body)
            body["meta"] = {**(body.get("meta") or {}), "versionId": str(version_id), "lastUpdated": stamp}
            body["id"] = id_
            content = orjson.dumps(body).decode()
            owner, security = self._access(body)
        elif before is not None and before.content is not None:
            # A deletion is seen by whoever saw what it deleted, and by no one else.
            owner, security = self._access(before.resource())
        return dict(res_type=resource_type, res_id=id_, version_id=version_id, last_updated=stamp, method=method,
                    deleted=body is None, content=content, owner_org=owner, security=security), body

    def _currents(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], StoredVersion]:
        """The current rows of these keys, in a few statements (locked on PostgreSQL, as `current`)."""
        by_type: dict[str, list[str]] = {}
        for resource_type, id_ in keys:
            by_type.setdefault(resource_type, []).append(id_)
        found: dict[tuple[str, str], StoredVersion] = {}
        for resource_type, ids in by_type.items():
            for start in range(0, len(ids), 500):
                query = select(resource).where(and_(resource.c.res_type == resource_type,
                                                    resource.c.res_id.in_(ids[start:start + 500])))
                if self._conn.dialect.name == "postgresql":
                    query = query.with_for_update()
                for row in self._conn.execute(query):
                    found[(row.res_type, row.res_id)] = _row_to_version(row)
        return found

    def add_new(self, resource_type: str, bodies: list[dict], *, method: str = "POST") -> int:
        """Version 1 of each body whose id is not stored yet (the rest are skipped: a replay is
        harmless), as `put` would write it, in a handful of statements whatever the count. For
        the audit trail, whose events are only ever created: one per request, written in batches."""
        ids = list(dict.fromkeys(b["id"] for b in bodies))
        stored = set()
        for start in range(0, len(ids), 500):
            stored |= {r[0] for r in self._conn.execute(select(resource.c.res_id).where(and_(
                resource.c.res_type == resource_type, resource.c.res_id.in_(ids[start:start + 500]))))}
        stamp = now_instant()
        fresh: dict[str, tuple[dict, dict]] = {}
        for given in bodies:
            if given["id"] in stored or given["id"] in fresh:
                continue
            body = dict(given, meta={**(given.get("meta") or {}), "versionId": "1", "lastUpdated": stamp})
            owner, security = self._access(body)
            fresh[body["id"]] = (body, dict(res_type=resource_type, res_id=body["id"], version_id=1,
                                            last_updated=stamp, deleted=False, content=orjson.dumps(body).decode(),
                                            owner_org=owner, security=security))
        if not fresh:
            return 0
        rows = [row for _, row in fresh.values()]
        seqs = self._insert_versions([dict(row, method=method) for row in rows])
        self._copy_to_current(seqs)
        self._indexer.add(self._conn, resource_type, [body for body, _ in fresh.values()])
        self.created += len(rows)
        return len(rows)


def _nothing(resource_type: str, id_: str) -> WriteResult:
    return WriteResult(StoredVersion(resource_type, id_, 0, now_instant(), True, None, 0), False, False)


def _is_retryable(exc: DBAPIError) -> bool:
    if isinstance(exc, IntegrityError):
        return True  # two creators of one id: the loser re-runs and finds the row
    code = getattr(getattr(exc, "orig", None), "sqlstate", None) or getattr(getattr(exc, "orig", None), "pgcode", None)
    if code in ("40001", "40P01"):  # serialization failure, deadlock
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


class Repository:
    def __init__(self, engine: Engine, access: AccessColumns = _no_access_columns, *, retries: int = 5,
                 indexer: Indexer | None = None):
        self.engine = engine
        self._access = access
        self._retries = retries
        self._indexer = indexer or _NoIndex()
        self._reads = read_engine(engine)
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._analyze_at: int | None = None  # set at the first write (_grew)
        self._grown = 0
        self._read_sql = (f"SELECT res_type, res_id, version_id, seq, last_updated, deleted, content "
                          f"FROM resource WHERE res_type = {mark} AND res_id = {mark}")
        # Not max(seq) ... WHERE res_type = ?: PostgreSQL answers that by walking the primary key
        # (seq) backwards until a row of the type turns up, past every later version of other
        # types (21 ms for Organization behind 65,000 responses and tasks), and with `=` it drops
        # res_type from an ORDER BY as constant. As a range ordered by both columns of the
        # (res_type, seq) index, the probe is one descent of that index on both stores (0.09 ms).
        self._max_seq_sql = (f"SELECT seq FROM resource_version WHERE res_type >= {mark} AND res_type <= {mark} "
                             f"ORDER BY res_type DESC, seq DESC LIMIT 1")

    # -- writes ---------------------------------------------------------------------------
    def write_unit(self, work: Callable[[WriteUnit], T]) -> T:
        """Run `work` in one write transaction; all of it commits or none of it does."""
        for attempt in range(self._retries + 1):
            try:
                with writing(self.engine) as conn:
                    unit = WriteUnit(conn, self._access, self._indexer)
                    result = work(unit)
            except DBAPIError as exc:
                if attempt == self._retries or not _is_retryable(exc):
                    raise
                time.sleep(0.005 * (attempt + 1))
                continue
            self._grew(unit.created)
            return result
        raise AssertionError("unreachable")

    def put(self, resource_type: str, id_: str, body: dict | None, **kwargs) -> WriteResult:
        return self.write_unit(lambda unit: unit.put(resource_type, id_, body, **kwargs))

    # -- reads ----------------------------------------------------------------------------
    def read(self, resource_type: str, id_: str) -> StoredVersion | None:
        # The hottest query of the server, sent as driver SQL: SQLAlchemy's expression machinery
        # costs several times what SQLite takes to answer it.
        with self._reads.connect() as conn:
            row = conn.exec_driver_sql(self._read_sql, (resource_type, id_)).first()
        return _row_to_version(row) if row else None

    def read_version(self, resource_type: str, id_: str, version_id: int) -> StoredVersion | None:
        with self.engine.connect() as conn:
            row = conn.execute(_VREAD, {"t": resource_type, "i": id_, "v": version_id}).first()
        return _row_to_version(row, row.method) if row else None

    def _history_filter(self, resource_type: str | None, id_: str | None, since: str | None,
                        max_seq: int | None, access: VersionFilter | None = None):
        conds = []
        narrowed = access(resource_version, resource_type) if access else None
        if narrowed is not None:
            conds.append(narrowed)
        if resource_type:
            conds.append(resource_version.c.res_type == resource_type)
        if id_:
            conds.append(resource_version.c.res_id == id_)
        if since:
            conds.append(resource_version.c.last_updated >= since)
        if max_seq is not None:
            conds.append(resource_version.c.seq <= max_seq)
        return and_(*conds) if conds else None

    def history(self, *, resource_type: str | None = None, id_: str | None = None,
                since: str | None = None, max_seq: int | None = None,
                count: int = 50, access: VersionFilter | None = None) -> list[StoredVersion]:
        """Versions newest first; `max_seq` pins a page to what existed when paging began;
        `access` narrows to the versions a caller may see."""
        query = select(resource_version).order_by(resource_version.c.seq.desc()).limit(count)
        where = self._history_filter(resource_type, id_, since, max_seq, access)
        if where is not None:
            query = query.where(where)
        with self.engine.connect() as conn:
            return [_row_to_version(r, r.method) for r in conn.execute(query)]

    def history_total(self, *, resource_type: str | None = None, id_: str | None = None,
                      since: str | None = None, max_seq: int | None = None,
                      access: VersionFilter | None = None) -> int:
        query = select(func.count()).select_from(resource_version)
        where = self._history_filter(resource_type, id_, since, max_seq, access)
        if where is not None:
            query = query.where(where)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    @property
    def reads(self) -> Engine:
        """The engine for single-statement reads: autocommit on PostgreSQL (one round trip a
        statement, no BEGIN and ROLLBACK around it), the same engine on SQLite."""
        return self._reads

    def generation(self, resource_types: Iterable[str]) -> int:
        """The newest version sequence number among `resource_types`: changes whenever one of
        them is written (one index probe per type)."""
        types = sorted(set(resource_types))
        if not types:
            return 0
        # One statement (one round trip) of one index probe per type: max(seq) over an IN list
        # would read every version of those types instead.
        probes = [f"coalesce(({self._max_seq_sql}), 0)" for _ in types]
        largest = "greatest" if self.engine.dialect.name == "postgresql" else "max"
        sql = f"SELECT {largest}({', '.join(probes)})" if len(probes) > 1 else f"SELECT {probes[0]}"
        with self._reads.connect() as conn:
            return int(conn.exec_driver_sql(sql, tuple(t for t in types for _ in (0, 1))).scalar() or 0)

    def refresh_access(self, *, batch: int = 500) -> int:
        """Recompute the access columns of every stored version (after the access rules change)."""
        done = 0
        for table, key in ((resource, (resource.c.res_type, resource.c.res_id)), (resource_version, (resource_version.c.seq,))):
            after = None
            while True:
                query = select(table).order_by(*key).limit(batch)
                if after is not None:
                    query = query.where(tuple_(*key) > tuple_(*after)) if len(key) > 1 else query.where(key[0] > after[0])
                with self.engine.connect() as conn:
                    rows = conn.execute(query).all()
                if not rows:
                    break
                with writing(self.engine) as conn:
                    for row in rows:
                        if row.content is None:
                            continue
                        owner, security = self._access(orjson.loads(row.content))
                        conn.execute(table.update().where(and_(*[c == getattr(row, c.name) for c in key]))
                                     .values(owner_org=owner, security=security))
                        done += 1
                after = tuple(getattr(rows[-1], c.name) for c in key)
        return done

    def max_seq(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.max(resource_version.c.seq), 0))).scalar_one())

    def iter_current(self, resource_type: str, *, batch: int = 500, include_deleted: bool = False):
        """Every current version of a type, in id order, fetched in keyset batches (flat memory)."""
        after = ""
        while True:
            query = (select(resource).where(and_(resource.c.res_type == resource_type, resource.c.res_id > after))
                     .order_by(resource.c.res_id).limit(batch))
            if not include_deleted:
                query = query.where(resource.c.deleted.is_(False))
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            for row in rows:
                yield _row_to_version(row)
            if len(rows) < batch:
                return
            after = rows[-1].res_id

    def reindex(self, resource_types: Iterable[str] | None = None, *, batch: int = 500) -> int:
        """Rebuild the search index rows of every current version (after a migration adds an index)."""
        count = 0
        with self.engine.connect() as conn:
            types = resource_types or [r[0] for r in conn.execute(select(resource.c.res_type).distinct())]
        for resource_type in types:
            pending: list[StoredVersion] = []
            for version in self.iter_current(resource_type, batch=batch):
                pending.append(version)
                if len(pending) == batch:
                    count += self._reindex_batch(pending)
                    pending = []
            count += self._reindex_batch(pending)
        return count

    def _reindex_batch(self, versions: list[StoredVersion]) -> int:
        def work(unit: WriteUnit) -> int:
            for v in versions:
                self._indexer.replace(unit.connection, v.resource_type, v.id, v.resource())
            return len(versions)

        return self.write_unit(work) if versions else 0

    def _grew(self, created: int) -> None:
        """ANALYZE each time the store has about doubled through this repository: at the store's
        size when this repository first wrote (at least 1,000 new resources), then at each
        fourfold growth. PostgreSQL plans a prepared statement once per connection (psycopg
        prepares after five runs) and keeps that plan until the table's statistics change; with
        autovacuum off, a plan made while a bulk load had just begun on an empty store survived
        the whole load: the locked lookup of a resource by type and id walked the (res_type,
        last_updated) index over every row of its type, 2.5 ms per write at 70,000 resources and
        growing. A server's audit trail grows a large store slowly, and is left alone."""
        if not created:
            return
        if self._analyze_at is None:
            with self._reads.connect() as conn:
                size = int(conn.execute(select(func.count()).select_from(resource)).scalar_one())
            self._analyze_at = max(_FIRST_ANALYZE, size - created)  # the size before this write
        self._grown += created
        if self._grown >= self._analyze_at:
            self._analyze_at = self._grown * 4
            try:
                self.analyze()
            except DBAPIError:  # the write has committed; fresher statistics can wait for the next
                log.warning("ANALYZE after %d new resources failed", self._grown, exc_info=True)

    def analyze(self) -> None:
        """Refresh the planner's table statistics. After a bulk load the planner otherwise guesses
        (PostgreSQL has no statistics for fresh index tables; SQLite has none until ANALYZE) and can
        pick a scan of a whole index table over a selective index."""
        with writing(self.engine) as conn:
            if self.engine.dialect.name == "sqlite":
                # Sampled: bounded time on all of England, and as good for choosing among indexes.
                conn.exec_driver_sql("PRAGMA analysis_limit=2000")
            conn.exec_driver_sql("ANALYZE")

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            conn.execute(select(1))
        return True

    def current_ids(self, resource_type: str, *, limit: int) -> frozenset[str] | None:
        """The ids of the live resources of a type, or None when there are more than `limit`."""
        query = select(resource.c.res_id).where(and_(resource.c.res_type == resource_type,
                                                     resource.c.deleted.is_(False))).limit(limit + 1)
        with self.engine.connect() as conn:
            ids = frozenset(conn.execute(query).scalars())
        return ids if len(ids) <= limit else None

    def count_current(self, resource_types: Iterable[str] | None = None) -> int:
        query = select(func.count()).select_from(resource).where(resource.c.deleted.is_(False))
        if resource_types:
            query = query.where(resource.c.res_type.in_(list(resource_types)))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
