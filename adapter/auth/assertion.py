"""The client side of SMART Backend Services: key files, signed assertions, token requests.

Used by `dthub token` and `dthub keygen`, so the README can show a working curl in three lines.
"""
from __future__ import annotations

import time
import uuid
from pathlib import Path

import jwt
import orjson
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from .token_endpoint import ASSERTION_TYPE


def generate_key(kid: str, kty: str = "EC") -> tuple[dict, dict]:
    """A new key pair as (private JWK, public JWKS)."""
    if kty == "EC":
        private = ec.generate_private_key(ec.SECP384R1())
        jwk, alg = orjson.loads(ECAlgorithm.to_jwk(private)), "ES384"
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk, alg = orjson.loads(RSAAlgorithm.to_jwk(private)), "RS384"
    jwk.update(kid=kid, alg=alg, use="sig")
    public = {k: v for k, v in jwk.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
    return jwk, {"keys": [public]}


def load_private_jwk(path: Path) -> dict:
    data = path.read_bytes()
    if data.lstrip().startswith(b"{"):
        jwk = orjson.loads(data)
        if "d" not in jwk or "kid" not in jwk:
            raise ValueError(f"{path} is not a private JWK with a kid")
        return jwk
    key = serialization.load_pem_private_key(data, None)
    if isinstance(key, rsa.RSAPrivateKey):
        jwk, alg = orjson.loads(RSAAlgorithm.to_jwk(key)), "RS384"
    else:
        jwk, alg = orjson.loads(ECAlgorithm.to_jwk(key)), "ES384"
    jwk.update(alg=alg, kid=jwt.PyJWK(jwk).key_id or path.stem)
    return jwk


def sign_assertion(jwk: dict, client_id: str, token_url: str, *, lifetime: int = 240,
                   purpose: str | None = None) -> str:
    alg = jwk.get("alg") or ("ES384" if jwk["kty"] == "EC" else "RS384")
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": token_url, "exp": now + lifetime, "iat": now,
              "jti": uuid.uuid4().hex}
    if purpose:
        claims["purpose_of_use"] = purpose
    return jwt.encode(claims, jwt.PyJWK(jwk, algorithm=alg).key, algorithm=alg, headers={"kid": jwk["kid"]})


def request_token(token_url: str, assertion: str, scope: str, *, timeout: float = 10.0) -> dict:
    response = requests.post(token_url, timeout=timeout, data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion, "scope": scope})
    body = response.json()
    if response.status_code != 200:
        raise RuntimeError(f"token request refused ({response.status_code}): {body.get('error')}: "
                           f"{body.get('error_description')}")
    return body
