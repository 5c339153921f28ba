"""Push state in the SOURCE store, per stream (source client x target URL): the high-water mark of
the last successful run, the grants it ran under, whether a run was interrupted, and the ledger of
what was last sent (by digest), written after each batch the target acknowledged."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, delete, select, text, tuple_

from ..storage import Repository, now_instant
from ..storage.engine import writing
from ..storage.schema import push_sent, push_state


def stream_key(client_id: str, target: str) -> str:
    return hashlib.sha256(f"{client_id}\n{normalise_target(target)}".encode()).hexdigest()[:32]


def normalise_target(target: str) -> str:
    return target.rstrip("/")


def settled_instant(repo: Repository) -> str:
    """An instant before which every write has committed, and after which every write will be
    stamped: the `until` of a run. A write stamps its `lastUpdated` while it holds the write lock
    (SQLite) or its `resource` row lock (PostgreSQL); taking that lock exclusively for a moment
    waits for writers already stamped and makes later ones stamp after it. One millisecond is
    taken off, since a later writer may stamp within the same millisecond."""
    with writing(repo.engine) as conn:
        if conn.dialect.name == "postgresql":
            # EXCLUSIVE conflicts with the ROW SHARE a writer's SELECT ... FOR UPDATE holds; reads go on.
            conn.execute(text("LOCK TABLE resource IN EXCLUSIVE MODE"))
        stamp = datetime.now(timezone.utc) - timedelta(milliseconds=1)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class PushState:
    def __init__(self, repo: Repository, client_id: str, target: str):
        self._engine = repo.engine
        self.client_id = client_id
        self.target = normalise_target(target)
        self.stream = stream_key(client_id, target)

    def load(self) -> dict | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(push_state).where(push_state.c.stream == self.stream)).first()
        return dict(row._mapping) if row else None

    def _upsert(self, **values) -> None:
        with writing(self._engine) as conn:
            found = conn.execute(select(push_state.c.stream).where(push_state.c.stream == self.stream)).first()
            values["updated"] = now_instant()
            if found:
                conn.execute(push_state.update().where(push_state.c.stream == self.stream).values(**values))
            else:
                conn.execute(push_state.insert().values(stream=self.stream, client_id=self.client_id,
                                                        target=self.target, **values))

    def started(self, instant: str) -> None:
        self._upsert(running_since=instant)

    def finished(self) -> None:
        """A run that ended with refusals: not interrupted, but the mark stays where it was."""
        self._upsert(running_since=None)

    def succeeded(self, mark: str, grants: str) -> None:
        self._upsert(mark=mark, grants=grants, running_since=None)

    def forget(self) -> None:
        """`--full`: the stream starts again, ledger included."""
        with writing(self._engine) as conn:
            conn.execute(delete(push_sent).where(push_sent.c.stream == self.stream))
            conn.execute(delete(push_state).where(push_state.c.stream == self.stream))

    # -- the ledger -----------------------------------------------------------------------------
    def sent_digests(self, refs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        if not refs:
            return {}
        out: dict[tuple[str, str], str] = {}
        with self._engine.connect() as conn:
            for start in range(0, len(refs), 200):
                chunk = refs[start:start + 200]
                rows = conn.execute(select(push_sent.c.res_type, push_sent.c.res_id, push_sent.c.digest).where(and_(
                    push_sent.c.stream == self.stream,
                    tuple_(push_sent.c.res_type, push_sent.c.res_id).in_(chunk))))
                out.update({(r.res_type, r.res_id): r.digest for r in rows})
        return out

    def record_sent(self, sent: dict[tuple[str, str], str]) -> None:
        if not sent:
            return
        with writing(self._engine) as conn:
            keys = list(sent)
            for start in range(0, len(keys), 200):
                conn.execute(delete(push_sent).where(and_(
                    push_sent.c.stream == self.stream,
                    tuple_(push_sent.c.res_type, push_sent.c.res_id).in_(keys[start:start + 200]))))
            conn.execute(push_sent.insert(), [dict(stream=self.stream, res_type=t, res_id=i, digest=d)
                                              for (t, i), d in sent.items()])
