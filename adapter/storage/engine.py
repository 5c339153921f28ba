"""Engine construction for SQLite (embedded) and PostgreSQL (production), and schema migration."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy.pool import NullPool
from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from .schema import MIGRATIONS, metadata, schema_state

WRITE = "dthub_write"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, busy_timeout_ms: int = 30000, pooled: bool = True) -> Engine:
    """`pooled=False` (PostgreSQL): a connection per use, none kept idle — for background writers
    such as the audit trail, which must not hold server connections between their batches."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, busy_timeout_ms)
    if not pooled:
        return create_engine(url, poolclass=NullPool)
    # No pre-ping (a round trip per checkout); stale connections are recycled instead, and a
    # request that meets a dropped connection fails with a 500 that the next one will not see.
    return create_engine(url, pool_recycle=1800, pool_size=5, max_overflow=10)


def read_engine(engine: Engine) -> Engine:
    """The same pool in autocommit for reads: PostgreSQL then answers a read in one round trip
    (no BEGIN and ROLLBACK around it). SQLite reads already run without BEGIN (see above)."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


def _sqlite_engine(url: str, database: str | None, busy_timeout_ms: int) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # pysqlite's own transaction handling defers BEGIN and cannot do BEGIN IMMEDIATE;
        # we issue BEGIN ourselves (SQLAlchemy's documented recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Writers take the write lock up front so two read-then-write transactions cannot
        # deadlock on lock upgrade; the busy timeout queues them instead. Reads run in SQLite's
        # autocommit mode: each SELECT sees one consistent snapshot, and skips a round trip.
        if conn.get_execution_options().get(WRITE):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction: BEGIN IMMEDIATE on SQLite, so writers queue on the busy timeout instead
    of failing on a read-to-write lock upgrade; an ordinary transaction on PostgreSQL."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        try:
            with conn.begin():
                yield conn
        except DBAPIError as failed:
            # Ctrl-C or SIGTERM in the middle of a statement leaves the connection busy, so the
            # rollback fails and its error would replace the interrupt (an interrupted import
            # exited as a "store error"). The connection is dropped instead: the database rolls
            # the transaction back when it closes, and the interrupt goes on as itself.
            interrupt = _interrupt_behind(failed)
            if interrupt is None:
                raise
            conn.invalidate()
            raise interrupt from None


def _interrupt_behind(error: BaseException) -> BaseException | None:
    seen = error.__context__
    while seen is not None:
        if isinstance(seen, (KeyboardInterrupt, SystemExit)):
            return seen
        seen = seen.__context__
    return None


def schema_version(engine: Engine) -> int:
    """The version a store is at (0 for an empty one)."""
    with engine.connect() as conn:
        if not engine.dialect.has_table(conn, schema_state.name):
            return 0
        row = conn.execute(select(schema_state.c.version).where(schema_state.c.id == 1)).first()
    return row.version if row else 0


def migrate(engine: Engine) -> int:
    """Create or upgrade the schema; a second run changes nothing. Returns the schema version."""
    with writing(engine) as conn:
        if engine.dialect.name == "postgresql":
            # Several workers may start at once: one migrates, the others wait and find it done.
            conn.execute(text("SELECT pg_advisory_xact_lock(7220431)"))
        metadata.create_all(conn, tables=[schema_state])
        row = conn.execute(select(schema_state.c.version).where(schema_state.c.id == 1)).first()
        current = row.version if row else 0
        for step in MIGRATIONS[current:]:
            step(conn)
        if row is None:
            conn.execute(schema_state.insert().values(id=1, version=len(MIGRATIONS)))
        elif current != len(MIGRATIONS):
            conn.execute(schema_state.update().where(schema_state.c.id == 1).values(version=len(MIGRATIONS)))
    return len(MIGRATIONS)
