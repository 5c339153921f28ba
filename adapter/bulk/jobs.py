"""Export jobs in the store (table `export_job`): they outlive the process that accepted them, and
any worker of any process may run them, one at a time.

A worker claims a job with one conditional UPDATE (accepted, or in progress under an expired
lease) and keeps it by renewing the lease with `beat`, which also tells it when the job was
cancelled or taken over: both stores serialise the two UPDATEs on the row, so a job never has two
live workers, whatever the number of gunicorn processes."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import orjson
from sqlalchemy import and_, func, or_, select, text

from ..storage import Repository
from ..storage.engine import writing
from ..storage.schema import export_job as job_table

UNFINISHED = ("accepted", "in-progress")


@dataclass(frozen=True)
class Job:
    job_id: str
    client_id: str
    org: str | None
    role: str
    purpose: str
    scopes: str
    request_url: str
    params: dict
    status: str
    progress: str | None
    transaction_time: str
    created_at: int
    expires_at: int
    owner: str | None
    lease_until: int | None
    done: dict
    message: str | None

    @classmethod
    def from_row(cls, row) -> "Job":
        return cls(row.job_id, row.client_id, row.org, row.role, row.purpose, row.scopes, row.request_url,
                   orjson.loads(row.params), row.status, row.progress, row.transaction_time, row.created_at,
                   row.expires_at, row.owner, row.lease_until, orjson.loads(row.done), row.message)


class JobStore:
    def __init__(self, repo: Repository, *, clock=time.time):
        self._engine = repo.engine
        self._clock = clock

    def now(self) -> int:
        return int(self._clock())

    def create(self, *, principal, request_url: str, params: dict, transaction_time: str, ttl: int,
               max_unfinished: int | None = None) -> Job | None:
        """The new job, or None when the client already has `max_unfinished` unfinished ones. The count
        and the insert are one transaction, serialised per client, so concurrent kick-offs cannot
        both pass the limit."""
        job_id = secrets.token_hex(16)
        now = self.now()
        values = dict(job_id=job_id, client_id=principal.client_id, org=principal.org, role=principal.role,
                      purpose=principal.purpose, scopes=str(principal.scopes), request_url=request_url,
                      params=orjson.dumps(params).decode(), status="accepted", progress="Queued",
                      transaction_time=transaction_time, created_at=now, expires_at=now + ttl,
                      owner=None, lease_until=None, done=orjson.dumps({"output": [], "units": []}).decode(),
                      message=None)
        with writing(self._engine) as conn:
            if max_unfinished is not None:
                # SQLite's BEGIN IMMEDIATE already runs writers one at a time; PostgreSQL needs a lock.
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                                 {"key": f"export-job:{principal.client_id}"})
                if self._unfinished(conn, principal.client_id, now) >= max_unfinished:
                    return None
            conn.execute(job_table.insert().values(**values))
        return self.get(job_id)

    def get(self, job_id: str) -> Job | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(job_table).where(job_table.c.job_id == job_id)).first()
        return Job.from_row(row) if row else None

    @staticmethod
    def _unfinished(conn, client_id: str, now: int) -> int:
        return conn.execute(select(func.count()).select_from(job_table).where(and_(
            job_table.c.client_id == client_id, job_table.c.status.in_(UNFINISHED),
            job_table.c.expires_at >= now))).scalar_one()

    def runnable(self) -> list[str]:
        """Jobs a worker could claim now (queued, or abandoned by a dead worker), oldest first."""
        now = self.now()
        with self._engine.connect() as conn:
            return [r.job_id for r in conn.execute(
                select(job_table.c.job_id).where(self._claimable(now)).order_by(job_table.c.created_at).limit(20))]

    def any_unfinished(self) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(select(job_table.c.job_id).where(
                job_table.c.status.in_(UNFINISHED)).limit(1)).first() is not None

    @staticmethod
    def _claimable(now: int):
        return or_(job_table.c.status == "accepted",
                   and_(job_table.c.status == "in-progress", job_table.c.lease_until < now))

    def claim(self, job_id: str, worker: str, lease: int) -> Job | None:
        now = self.now()
        with writing(self._engine) as conn:
            claimed = conn.execute(job_table.update().where(and_(job_table.c.job_id == job_id,
                                                                 self._claimable(now)))
                                   .values(status="in-progress", owner=worker, lease_until=now + lease,
                                           progress="Started")).rowcount
        return self.get(job_id) if claimed == 1 else None

    def beat(self, job_id: str, worker: str, lease: int, *, progress: str | None = None,
             done: dict | None = None) -> bool:
        """Renew the lease (and record progress); False when the job is no longer this worker's
        (cancelled, expired, or taken over after a stall): the worker must stop."""
        values: dict = {"lease_until": self.now() + lease}
        if progress is not None:
            values["progress"] = progress
        if done is not None:
            values["done"] = orjson.dumps(done).decode()
        with writing(self._engine) as conn:
            return conn.execute(job_table.update().where(and_(
                job_table.c.job_id == job_id, job_table.c.owner == worker,
                job_table.c.status == "in-progress")).values(**values)).rowcount == 1

    def finish(self, job_id: str, worker: str, *, status: str, done: dict | None = None,
               message: str | None = None, ttl: int | None = None) -> bool:
        values: dict = {"status": status, "lease_until": None, "progress": status.capitalize(), "message": message}
        if done is not None:
            values["done"] = orjson.dumps(done).decode()
        if ttl is not None:  # files are kept for the TTL from completion, not from the request
            values["expires_at"] = self.now() + ttl
        with writing(self._engine) as conn:
            return conn.execute(job_table.update().where(and_(
                job_table.c.job_id == job_id, job_table.c.owner == worker,
                job_table.c.status == "in-progress")).values(**values)).rowcount == 1

    def cancel(self, job_id: str, client_id: str) -> Job | None:
        """Mark the client's job cancelled; the job as it was before, or None when there is none."""
        job = self.get(job_id)
        if job is None or job.client_id != client_id or job.status == "cancelled":
            return None
        with writing(self._engine) as conn:
            conn.execute(job_table.update().where(and_(job_table.c.job_id == job_id,
                                                       job_table.c.status != "cancelled"))
                         .values(status="cancelled", progress="Cancelled"))
        return job

    def delete(self, job_id: str) -> None:
        with writing(self._engine) as conn:
            conn.execute(job_table.delete().where(job_table.c.job_id == job_id))

    def disposable(self) -> list[str]:
        """Jobs whose files and row may go: expired ones, and cancelled ones no live worker holds."""
        now = self.now()
        with self._engine.connect() as conn:
            return [r.job_id for r in conn.execute(select(job_table.c.job_id).where(or_(
                job_table.c.expires_at < now,
                and_(job_table.c.status == "cancelled",
                     or_(job_table.c.lease_until.is_(None), job_table.c.lease_until < now)))).limit(100))]
