"""The client registry: registered clients, their organisation, role, scopes, purposes and keys."""
from __future__ import annotations

import time
from dataclasses import dataclass

import orjson
from sqlalchemy import Engine, select

from ..storage.engine import writing

from ..storage import now_instant
from ..storage.schema import client as client_table
from .principal import PURPOSES, ROLES
from .scopes import ScopeSet

ORG_FREE_ROLES = ("external", "service")


class RegistryError(ValueError):
    """A registration request that cannot be carried out (message is for the operator)."""


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    org: str | None
    role: str
    scopes: ScopeSet
    purposes: tuple[str, ...]
    jwks: dict | None
    jwks_url: str | None
    enabled: bool
    created: str

    @property
    def default_purpose(self) -> str:
        # Policy: a client registered for no purpose acts for marketing (the baseline only).
        return self.purposes[0] if self.purposes else "HMARKT"

    def may_act_for(self, purpose: str | None) -> bool:
        """Whether the client may act for `purpose`: one it is registered for (or, registered for
        none, the default above). Tokens and Subscription notifications ask the same question."""
        return purpose in (self.purposes or (self.default_purpose,))


def _record(row) -> ClientRecord:
    return ClientRecord(row.client_id, row.org, row.role, ScopeSet.parse(row.scopes),
                        tuple(row.purposes.split()), orjson.loads(row.jwks) if row.jwks else None,
                        row.jwks_url, bool(row.enabled), row.created)


def check_jwks(jwks: dict) -> dict:
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise RegistryError("a JWKS needs a non-empty 'keys' list")
    for key in keys:
        if not isinstance(key, dict) or not key.get("kid") or key.get("kty") not in ("RSA", "EC"):
            raise RegistryError("each key needs a 'kid' and a 'kty' of RSA or EC")
        if any(k in key for k in ("d", "p", "q", "dp", "dq", "qi")):
            raise RegistryError(f"key {key['kid']!r} holds private parts: register the public JWKS only")
    return jwks


class ClientRegistry:
    def __init__(self, engine: Engine, *, cache_seconds: float = 0.0):
        self._engine = engine
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, ClientRecord | None]] = {}

    def get(self, client_id: str) -> ClientRecord | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(client_table).where(client_table.c.client_id == client_id)).first()
        return _record(row) if row else None

    def get_cached(self, client_id: str) -> ClientRecord | None:
        """`get`, remembered for `cache_seconds` (per process): every FHIR call checks its client,
        and a store round trip per request would cost more than the read itself. A change made
        elsewhere (another worker, the CLI) is seen within that window; changes made through this
        registry are seen at once."""
        now = time.monotonic()
        hit = self._cache.get(client_id)
        if hit and hit[0] > now:
            return hit[1]
        record = self.get(client_id)
        if self._cache_seconds > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[client_id] = (now + self._cache_seconds, record)
        return record

    def list(self) -> list[ClientRecord]:
        with self._engine.connect() as conn:
            return [_record(r) for r in conn.execute(select(client_table).order_by(client_table.c.client_id))]

    def add(self, client_id: str, *, org: str | None, role: str, scopes: str, purposes: list[str],
            jwks: dict | None = None, jwks_url: str | None = None) -> ClientRecord:
        if role not in ROLES:
            raise RegistryError(f"role must be one of {', '.join(ROLES)}")
        if role not in ORG_FREE_ROLES and not org:
            raise RegistryError(f"a {role} client needs --org")
        unknown = [p for p in purposes if p not in PURPOSES]
        if unknown:
            raise RegistryError(f"unknown purpose(s) {unknown}; use {', '.join(PURPOSES)}")
        if bool(jwks) == bool(jwks_url):
            raise RegistryError("give exactly one of --jwks FILE or --jwks-url URL")
        try:
            parsed_scopes = ScopeSet.parse(scopes, strict=True)
        except ValueError as exc:
            raise RegistryError(str(exc)) from None
        if not parsed_scopes:
            raise RegistryError("--scope grants nothing")
        if self.get(client_id):
            raise RegistryError(f"client {client_id!r} already exists")
        with writing(self._engine) as conn:
            conn.execute(client_table.insert().values(
                client_id=client_id, org=org, role=role, scopes=str(parsed_scopes),
                purposes=" ".join(dict.fromkeys(purposes)),
                jwks=orjson.dumps(check_jwks(jwks)).decode() if jwks else None,
                jwks_url=jwks_url, enabled=True, created=now_instant()))
        return self.get(client_id)

    def set_enabled(self, client_id: str, enabled: bool) -> ClientRecord:
        self._update(client_id, enabled=enabled)
        return self.get(client_id)

    def set_keys(self, client_id: str, *, jwks: dict | None = None, jwks_url: str | None = None) -> ClientRecord:
        if bool(jwks) == bool(jwks_url):
            raise RegistryError("give exactly one of --jwks FILE or --jwks-url URL")
        self._update(client_id, jwks=orjson.dumps(check_jwks(jwks)).decode() if jwks else None, jwks_url=jwks_url)
        return self.get(client_id)

    def _update(self, client_id: str, **values) -> None:
        self._cache.pop(client_id, None)
        with writing(self._engine) as conn:
            result = conn.execute(client_table.update().where(client_table.c.client_id == client_id).values(**values))
        if result.rowcount == 0:
            raise RegistryError(f"no client {client_id!r}")
