"""POST /auth/token: SMART Backend Services client credentials with a signed JWT assertion (RFC 7523).

Errors follow RFC 6749 §5.2 and never say which check almost passed.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Mapping

import jwt

from .clients import ClientRecord, ClientRegistry
from .jwks import JwksFetcher, JwksUnavailable, client_keys, select_key
from .principal import PURPOSES
from .replay import JtiStore
from .scopes import ScopeSet
from .server_keys import ALG, ServerKeys

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LIFETIME = 300
LEEWAY = 60


@dataclass(frozen=True)
class OAuthError(Exception):
    error: str
    description: str
    status: int = 400

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description}


def _client_failure() -> OAuthError:
    return OAuthError("invalid_client", "client authentication failed", 401)


class VerifiedTokens:
    """Claims of access tokens already verified in this process, keyed by the exact token string.

    A client sends the same token with every call for up to five minutes; verifying its RSA
    signature each time would cost more than most reads. Expiry is still checked on every use.
    """

    def __init__(self, capacity: int = 10_000):
        self._capacity = capacity
        self._claims: dict[str, dict] = {}

    def get(self, token: str) -> dict | None:
        return self._claims.get(token)

    def put(self, token: str, claims: dict) -> None:
        if len(self._claims) >= self._capacity:
            self._claims.clear()  # crude but bounded; tokens live five minutes at most
        self._claims[token] = claims


@dataclass
class AuthService:
    registry: ClientRegistry
    server_keys: ServerKeys
    jti_store: JtiStore
    fetcher: JwksFetcher
    token_url: str
    issuer: str
    audience: str  # the FHIR base the access tokens are for
    assertion_algs: tuple[str, ...]
    token_lifetime: int = 300
    verified_tokens: VerifiedTokens = field(default_factory=VerifiedTokens)

    # ------------------------------------------------------------------ token endpoint
    def issue_token(self, form: Mapping[str, str]) -> dict:
        if form.get("grant_type") != "client_credentials":
            raise OAuthError("unsupported_grant_type", "grant_type must be client_credentials")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise OAuthError("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}")
        assertion = form.get("client_assertion")
        if not assertion:
            raise OAuthError("invalid_request", "client_assertion is missing")
        record, claims = self._authenticate(assertion)
        purpose = self._purpose(record, claims.get("purpose_of_use"))
        scope = self._scope(record, form.get("scope"))
        return self._access_token(record, scope, purpose)

    def _authenticate(self, assertion: str) -> tuple[ClientRecord, dict]:
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise _client_failure() from None
        alg = header.get("alg")
        # The algorithm comes from configuration; the token only picks among those (none/HMAC never).
        if alg not in self.assertion_algs:
            raise _client_failure()
        client_id = unverified.get("iss")
        if not isinstance(client_id, str) or unverified.get("sub") != client_id:
            raise _client_failure()
        record = self.registry.get(client_id)
        if record is None or not record.enabled:
            raise _client_failure()
        try:
            keys = client_keys(record, self.fetcher)
        except JwksUnavailable:
            raise _client_failure() from None
        jwk = select_key(keys, header.get("kid"), alg)  # a `jku` header is never looked at
        if jwk is None:
            raise _client_failure()
        try:
            key = jwt.PyJWK(jwk, algorithm=alg).key
            claims = jwt.decode(assertion, key, algorithms=[alg], audience=self.token_url, issuer=client_id,
                                leeway=LEEWAY, options={"require": ["exp", "iss", "sub", "aud", "jti"]})
        except (jwt.PyJWTError, ValueError, TypeError):
            raise _client_failure() from None
        now = time.time()
        if claims["exp"] > now + MAX_ASSERTION_LIFETIME + LEEWAY or not isinstance(claims["jti"], str):
            raise _client_failure()
        if not self.jti_store.first_use(client_id, claims["jti"], int(claims["exp"])):
            raise _client_failure()
        return record, claims

    @staticmethod
    def _purpose(record: ClientRecord, asked) -> str:
        if asked is None:
            return record.default_purpose
        if not isinstance(asked, str) or asked not in PURPOSES:
            raise OAuthError("invalid_request", "purpose_of_use must be one bare ActReason code")
        if not record.may_act_for(asked):
            raise OAuthError("invalid_request", "purpose_of_use is not registered for this client")
        return asked

    @staticmethod
    def _scope(record: ClientRecord, asked: str | None) -> ScopeSet:
        granted = ScopeSet.parse(asked).intersect(record.scopes)
        if not granted:
            raise OAuthError("invalid_scope", "no requested scope can be granted")
        return granted

    def _access_token(self, record: ClientRecord, scope: ScopeSet, purpose: str) -> dict:
        kid, key = self.server_keys.signing_key()
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": record.client_id, "aud": self.audience, "iat": now,
                  "exp": now + self.token_lifetime, "jti": uuid.uuid4().hex, "scope": str(scope),
                  "purpose_of_use": purpose}
        token = jwt.encode(claims, key, algorithm=ALG, headers={"kid": kid})
        return {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime,
                "scope": str(scope), "purpose_of_use": purpose}
