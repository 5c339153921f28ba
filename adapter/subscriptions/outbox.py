"""The notifier's state in the store: a cursor over `resource_version.seq` and the delivery queue.

Several processes (gunicorn workers) run notifiers over one store: a notifier matches a batch of
versions while holding the cursor row (`matching`: FOR UPDATE on PostgreSQL, the write lock on
SQLite), so each batch is matched and queued by one of them; a delivery is sent by whoever
`claim_next`s it, one at a time right before sending (a lease: a notifier that dies mid-send
frees it when the lease ends, and another sends it again: delivery is at least once). Only the
lease holder may settle a delivery (`done`, `retry_later`): a notifier whose lease ran out
changes nothing another one has since claimed.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from ..storage.engine import read_engine, writing
from ..storage.schema import resource, resource_version, subscription_cursor, subscription_delivery

D = subscription_delivery


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Delivery:
    id: int
    subscription_id: str
    res_type: str
    res_id: str
    version_id: int
    attempts: int


@dataclass(frozen=True)
class NewVersion:
    seq: int
    res_type: str
    res_id: str
    version_id: int
    deleted: bool
    current_seq: int | None  # the seq of the resource's current version (None if gone)


class Outbox:
    def __init__(self, engine):
        self._engine = engine
        self._reads = read_engine(engine)
        self.postgres = engine.dialect.name == "postgresql"

    # -- the cursor -----------------------------------------------------------------------------
    def start_cursor(self) -> int:
        """The cursor, created at the newest version on first start: what was written before
        subscriptions existed in this store notifies no one."""
        found = self.cursor()
        if found is not None:
            return found
        try:
            with writing(self._engine) as conn:
                top = conn.execute(select(func.coalesce(func.max(resource_version.c.seq), 0))).scalar_one()
                conn.execute(insert(subscription_cursor).values(id=1, seq=int(top)))
        except IntegrityError:  # another process created it first
            pass
        return self.cursor()

    def cursor(self) -> int | None:
        with self._reads.connect() as conn:
            value = conn.execute(select(subscription_cursor.c.seq).where(subscription_cursor.c.id == 1)).scalar()
        return None if value is None else int(value)

    def snapshot_xmin(self) -> int | None:
        """PostgreSQL: the oldest transaction still running (every older one has ended)."""
        if not self.postgres:
            return None
        with self._reads.connect() as conn:
            return int(conn.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")).scalar())

    def snapshot_xmax(self) -> int | None:
        """PostgreSQL: the first transaction id not yet assigned."""
        if not self.postgres:
            return None
        with self._reads.connect() as conn:
            return int(conn.execute(text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")).scalar())

    def versions_after(self, seq: int, limit: int) -> list[NewVersion]:
        v, r = resource_version, resource
        query = (select(v.c.seq, v.c.res_type, v.c.res_id, v.c.version_id, v.c.deleted, r.c.seq.label("current"))
                 .select_from(v.outerjoin(r, and_(r.c.res_type == v.c.res_type, r.c.res_id == v.c.res_id)))
                 .where(v.c.seq > seq).order_by(v.c.seq).limit(limit))
        with self._reads.connect() as conn:
            return [NewVersion(int(row.seq), row.res_type, row.res_id, row.version_id, bool(row.deleted),
                               None if row.current is None else int(row.current)) for row in conn.execute(query)]

    @contextmanager
    def matching(self) -> Iterator[tuple[Connection, int | None]]:
        """A transaction holding the cursor row, and the cursor: while one notifier matches a
        batch, the others wait here instead of matching the same batch and losing the race to
        queue it. PostgreSQL locks the row (FOR UPDATE); SQLite's BEGIN IMMEDIATE (writing())
        already takes the store's write lock. Matching reads on other connections only."""
        with writing(self._engine) as conn:
            query = select(subscription_cursor.c.seq).where(subscription_cursor.c.id == 1)
            if self.postgres:
                query = query.with_for_update()
            value = conn.execute(query).scalar()
            yield conn, None if value is None else int(value)

    def advance(self, conn: Connection, old: int, new: int, queued: list[tuple[str, str, str, int]]) -> bool:
        """In the `matching` transaction: move the cursor from `old` to `new` and queue
        (subscription, type, id, version); False (nothing queued) if the cursor was not at `old`."""
        moved = conn.execute(update(subscription_cursor).where(and_(
            subscription_cursor.c.id == 1, subscription_cursor.c.seq == old)).values(seq=new)).rowcount
        if moved != 1:
            return False
        if queued:  # one executemany: an import can queue thousands at once
            stamp = now_ms()
            conn.execute(insert(D), [dict(subscription_id=sub_id, res_type=res_type, res_id=res_id,
                                          version_id=version_id, attempts=0, next_attempt=stamp)
                                     for sub_id, res_type, res_id, version_id in queued])
        return True

    # -- deliveries -----------------------------------------------------------------------------
    def claim_next(self, owner: str, lease_ms: int) -> Delivery | None:
        """One due delivery, the oldest of its Subscription (its notifications go in order, and a
        failing endpoint holds back only its own), leased to `owner`; None if none is due. One at
        a time, right before it is sent: a lease then covers one send, never a queue of them."""
        older = D.alias("older")
        while True:
            stamp = now_ms()
            free = or_(D.c.claimed_until.is_(None), D.c.claimed_until < stamp)
            head = (select(D).where(and_(D.c.next_attempt <= stamp, free, ~select(older.c.id).where(and_(
                older.c.subscription_id == D.c.subscription_id, older.c.id < D.c.id)).exists()))
                .order_by(D.c.id).limit(1))
            with self._reads.connect() as conn:
                row = conn.execute(head).first()
            if row is None:
                return None
            with writing(self._engine) as conn:
                got = conn.execute(update(D).where(and_(D.c.id == row.id, free)).values(
                    claimed_by=owner, claimed_until=stamp + lease_ms)).rowcount
            if got == 1:
                return Delivery(int(row.id), row.subscription_id, row.res_type, row.res_id,
                                row.version_id, row.attempts)
            # another notifier claimed it between the read and the update: look again

    def done(self, delivery_id: int, owner: str) -> bool:
        """Remove a sent (or pointless) delivery; False if `owner` no longer holds it."""
        with writing(self._engine) as conn:
            return conn.execute(delete(D).where(and_(D.c.id == delivery_id, D.c.claimed_by == owner))).rowcount == 1

    def retry_later(self, delivery: Delivery, owner: str, delay_ms: int, reason: str) -> bool:
        """Count a failed attempt and free the delivery until its backoff ends; False (nothing
        changed) if `owner` no longer holds it: the attempts are counted by the one that does."""
        with writing(self._engine) as conn:
            return conn.execute(update(D).where(and_(D.c.id == delivery.id, D.c.claimed_by == owner)).values(
                attempts=delivery.attempts + 1, next_attempt=now_ms() + delay_ms, claimed_by=None,
                claimed_until=None, last_error=reason[:500])).rowcount == 1

    def drop_all(self, subscription_id: str) -> None:
        with writing(self._engine) as conn:
            conn.execute(delete(D).where(D.c.subscription_id == subscription_id))

    def pending(self, subscription_id: str | None = None) -> int:
        query = select(func.count()).select_from(D)
        if subscription_id:
            query = query.where(D.c.subscription_id == subscription_id)
        with self._reads.connect() as conn:
            return int(conn.execute(query).scalar_one())
