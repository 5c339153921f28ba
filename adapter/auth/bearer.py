"""Bearer access tokens on FHIR calls: verify the server's own JWT and build the Principal."""
from __future__ import annotations

import time

import jwt

from ..outcomes import error
from .principal import Principal
from .scopes import INTERACTION_PERMISSION, ScopeSet
from .server_keys import ALG
from .token_endpoint import LEEWAY, AuthService


def _unauthorised(code: str, text: str, *, token_error: str | None = None):
    challenge = 'Bearer realm="dthub"' + (f', error="{token_error}"' if token_error else "")
    return error(401, code, text, headers={"WWW-Authenticate": challenge})


def _verify(service: AuthService, token: str) -> dict:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = service.server_keys.verification_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise jwt.InvalidSignatureError("unknown key")
        return jwt.decode(token, key, algorithms=[ALG], audience=service.audience, issuer=service.issuer,
                          leeway=LEEWAY, options={"require": ["exp", "iss", "sub", "aud", "scope"]})
    except jwt.ExpiredSignatureError:
        raise _unauthorised("expired", "The access token has expired", token_error="invalid_token") from None
    except jwt.PyJWTError:
        raise _unauthorised("login", "The access token is not valid here", token_error="invalid_token") from None


def authenticate(service: AuthService, authorization: str | None, *, token_in_query: bool) -> Principal:
    if token_in_query:
        raise _unauthorised("login", "Access tokens are not accepted in the query string; "
                            "send them in the Authorization header", token_error="invalid_request")
    scheme, _, token = (authorization or "").partition(" ")
    if not authorization:
        raise _unauthorised("login", "This endpoint needs a bearer token (SMART Backend Services)")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorised("login", "The Authorization header must be 'Bearer <token>'", token_error="invalid_request")
    token = token.strip()
    claims = service.verified_tokens.get(token)
    if claims is None or claims["exp"] + LEEWAY < time.time():
        claims = _verify(service, token)
        claims["_scopes"] = ScopeSet.parse(claims["scope"])  # parsed once per token, not per call
        service.verified_tokens.put(token, claims)
    record = service.registry.get_cached(claims["sub"])
    if record is None or not record.enabled:
        raise _unauthorised("login", "The client of this token is not enabled", token_error="invalid_token")
    return Principal(client_id=record.client_id, org=record.org, role=record.role,
                     scopes=claims["_scopes"], purpose=claims.get("purpose_of_use") or "HMARKT")


def authorise(principal: Principal, interaction: str, resource_type: str | None) -> None:
    permission = INTERACTION_PERMISSION[interaction]
    if not principal.scopes.allows(resource_type, permission):
        target = resource_type or "all resource types"
        raise error(403, "forbidden", f"The token's scopes do not allow {interaction} on {target}")
