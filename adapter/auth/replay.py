"""Seen client-assertion `jti`s, in the store so replay is refused across workers and restarts."""
from __future__ import annotations

import time

from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError

from ..storage.engine import writing
from ..storage.schema import assertion_jti


class JtiStore:
    def __init__(self, engine: Engine):
        self._engine = engine
        self._last_purge = 0.0

    def first_use(self, client_id: str, jti: str, expires_at: int) -> bool:
        """Record the jti; False when this client used it before (a replay)."""
        now = time.time()
        try:
            with writing(self._engine) as conn:
                if now - self._last_purge > 60:
                    conn.execute(delete(assertion_jti).where(assertion_jti.c.expires_at < int(now) - 120))
                    self._last_purge = now
                conn.execute(assertion_jti.insert().values(client_id=client_id, jti=jti, expires_at=expires_at))
        except IntegrityError:
            return False
        return True
