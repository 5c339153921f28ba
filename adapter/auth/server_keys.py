"""The server's own token-signing keys, kept in the store so every worker signs and verifies alike.

Rotation adds a key and retires the old one; a retired key still verifies (and stays in the JWKS)
for a grace period longer than any token's lifetime, so tokens in flight keep working.
"""
from __future__ import annotations

import threading
import time
import uuid

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from ..storage.engine import writing
from ..storage.schema import server_key

ALG = "RS256"  # RSA verification is the cheapest of the asymmetric checks, done on every request


def _new_key_row(now: int) -> dict:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = uuid.uuid4().hex
    jwk = orjson.loads(RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update(kid=kid, alg=ALG, use="sig")
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return dict(kid=kid, private_pem=pem, public_jwk=orjson.dumps(jwk).decode(), created_at=now, retired_at=None)


class ServerKeys:
    def __init__(self, engine: Engine, *, grace_seconds: int = 600, refresh_seconds: float = 30.0):
        self._engine = engine
        self._grace = grace_seconds
        self._refresh = refresh_seconds
        self._lock = threading.Lock()
        self._loaded_at = 0.0
        self._signing: tuple[str, object] | None = None
        self._verifying: dict[str, object] = {}
        self._public: list[dict] = []

    def ensure(self) -> None:
        """Create the first key if the store has none (several workers may race: one wins)."""
        with self._engine.connect() as conn:
            exists = conn.execute(select(server_key.c.kid).where(server_key.c.retired_at.is_(None))).first()
        if not exists:
            try:
                with writing(self._engine) as conn:
                    if not conn.execute(select(server_key.c.kid).where(server_key.c.retired_at.is_(None))).first():
                        conn.execute(server_key.insert().values(**_new_key_row(int(time.time()))))
            except IntegrityError:
                pass
        self._load()

    def rotate(self) -> str:
        now = int(time.time())
        row = _new_key_row(now)
        with writing(self._engine) as conn:
            conn.execute(server_key.update().where(server_key.c.retired_at.is_(None)).values(retired_at=now))
            conn.execute(server_key.insert().values(**row))
            # Keys retired long ago verify nothing any more: drop them.
            conn.execute(server_key.delete().where(server_key.c.retired_at < now - 10 * self._grace))
        self._load()
        return row["kid"]

    def _load(self) -> None:
        now = int(time.time())
        with self._engine.connect() as conn:
            rows = conn.execute(select(server_key).order_by(server_key.c.created_at)).all()
        signing, verifying, public = None, {}, []
        for row in rows:
            if row.retired_at is not None and row.retired_at < now - self._grace:
                continue
            jwk = orjson.loads(row.public_jwk)
            verifying[row.kid] = RSAAlgorithm.from_jwk(jwk)
            public.append(jwk)
            if row.retired_at is None:
                signing = (row.kid, serialization.load_pem_private_key(row.private_pem.encode(), None))
        with self._lock:
            self._signing, self._verifying, self._public = signing, verifying, public
            self._loaded_at = time.monotonic()

    def _fresh(self) -> None:
        if time.monotonic() - self._loaded_at > self._refresh:
            self._load()

    def signing_key(self) -> tuple[str, object]:
        self._fresh()
        if self._signing is None:
            self.ensure()
        return self._signing

    def verification_key(self, kid: str):
        self._fresh()
        key = self._verifying.get(kid)
        if key is None and time.monotonic() - self._loaded_at > 1.0:
            # Another worker may have rotated; at most one reload a second, so forged kids cost nothing.
            self._load()
            key = self._verifying.get(kid)
        return key

    def jwks(self) -> dict:
        self._fresh()
        return {"keys": list(self._public)}
