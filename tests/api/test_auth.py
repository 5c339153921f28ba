"""SMART Backend Services authentication: every rule of the token endpoint and of bearer checks."""
from __future__ import annotations

import base64
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from adapter import create_app
from adapter.auth.assertion import generate_key, sign_assertion
from adapter.auth.token_endpoint import ASSERTION_TYPE
from tests.conftest import authorised_client, close_app, fetch_token, make_config, register_client

TOKEN_URL = "http://fhir.test/auth/token"


@pytest.fixture
def registered(app, client_key):
    private, jwks = client_key
    register_client(app, "svc", jwks, scopes="system/*.rs system/Task.cruds", purposes=("HOPERAT", "HQUALIMP"))
    return private


def _claims(**overrides) -> dict:
    now = int(time.time())
    claims = {"iss": "svc", "sub": "svc", "aud": TOKEN_URL, "exp": now + 240, "iat": now, "jti": uuid.uuid4().hex}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(private: dict, claims: dict, *, alg: str = "ES384", headers: dict | None = None) -> str:
    return jwt.encode(claims, jwt.PyJWK(private, algorithm=alg).key, algorithm=alg,
                      headers={"kid": private["kid"], **(headers or {})})


def _token_request(anonymous, assertion: str, scope: str = "system/*.rs", **overrides):
    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion, "scope": scope}
    form.update(overrides)
    return anonymous.post("/auth/token", data=form)


def _refused_as_invalid_client(response) -> None:
    assert response.status_code == 401
    # One answer for every failed check: nothing tells the caller which one almost passed.
    assert response.get_json() == {"error": "invalid_client", "error_description": "client authentication failed"}


# ---------------------------------------------------------------- open endpoints and discovery
def test_fhir_calls_need_a_bearer_token_except_discovery(anonymous):
    for path in ("/fhir/metadata", "/fhir/.well-known/smart-configuration", "/healthz", "/auth/jwks"):
        assert anonymous.get(path).status_code == 200, path
    for path in ("/fhir/Organization/A81001", "/fhir/_history", "/fhir/Task/_history"):
        response = anonymous.get(path)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.get_json()["issue"][0]["code"] == "login"


def test_smart_configuration_advertises_the_token_endpoint(anonymous):
    config = anonymous.get("/fhir/.well-known/smart-configuration").get_json()
    assert config["token_endpoint"] == TOKEN_URL
    assert config["jwks_uri"] == "http://fhir.test/auth/jwks"
    assert config["grant_types_supported"] == ["client_credentials"]
    assert config["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert set(config["token_endpoint_auth_signing_alg_values_supported"]) == {"RS384", "ES384", "RS512"}
    assert "system/*.rs" in config["scopes_supported"] and "client-confidential-asymmetric" in config["capabilities"]


def test_capability_statement_names_smart_and_the_token_uri(anonymous):
    security = anonymous.get("/fhir/metadata").get_json()["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = security["extension"][0]
    assert uris["url"] == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    assert {"url": "token", "valueUri": TOKEN_URL} in uris["extension"]


# ---------------------------------------------------------------- the token endpoint
def test_a_valid_assertion_gets_a_signed_short_lived_token(anonymous, registered):
    response = _token_request(anonymous, _sign(registered, _claims()), scope="system/*.rs")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "bearer" and 0 < body["expires_in"] <= 300
    assert body["purpose_of_use"] == "HOPERAT" and "refresh_token" not in body
    kid = jwt.get_unverified_header(body["access_token"])["kid"]
    assert kid in {k["kid"] for k in anonymous.get("/auth/jwks").get_json()["keys"]}
    jwk = next(k for k in anonymous.get("/auth/jwks").get_json()["keys"] if k["kid"] == kid)
    claims = jwt.decode(body["access_token"], jwt.PyJWK(jwk).key, algorithms=["RS256"],
                        audience="http://fhir.test/fhir")
    assert claims["sub"] == "svc" and claims["purpose_of_use"] == "HOPERAT"
    assert claims["exp"] - claims["iat"] <= 300


def test_rsa_client_keys_sign_with_rs384_and_rs512(app, anonymous):
    private, jwks = generate_key("rsa-1", "RSA")
    unrestricted = {k: v for k, v in jwks["keys"][0].items() if k != "alg"}  # usable with any RS alg
    register_client(app, "rsa-client", {"keys": [unrestricted]})
    for alg in ("RS384", "RS512"):
        key = dict(private, alg=alg)
        assertion = jwt.encode(_claims(iss="rsa-client", sub="rsa-client"), jwt.PyJWK(key, algorithm=alg).key,
                               algorithm=alg, headers={"kid": "rsa-1"})
        assert _token_request(anonymous, assertion).status_code == 200, alg


def test_a_replayed_assertion_is_refused(anonymous, registered):
    assertion = _sign(registered, _claims())
    assert _token_request(anonymous, assertion).status_code == 200
    _refused_as_invalid_client(_token_request(anonymous, assertion))


def test_replay_is_refused_across_restarts(config, registered, anonymous):
    assertion = _sign(registered, _claims())
    assert _token_request(anonymous, assertion).status_code == 200
    restarted_app = create_app(config)
    _refused_as_invalid_client(_token_request(restarted_app.test_client(), assertion))
    close_app(restarted_app)


def test_wrong_audience_is_refused_whatever_the_host_header(anonymous, registered):
    _refused_as_invalid_client(_token_request(anonymous, _sign(registered, _claims(aud="http://evil.example/auth/token"))))
    forged_host = _sign(registered, _claims(aud="http://evil.example/auth/token"))
    response = anonymous.post("/auth/token", base_url="http://evil.example", data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": forged_host, "scope": "system/*.rs"})
    _refused_as_invalid_client(response)


def test_exp_more_than_five_minutes_ahead_is_refused(anonymous, registered):
    _refused_as_invalid_client(_token_request(anonymous, _sign(registered, _claims(exp=int(time.time()) + 900))))


def test_expired_assertion_and_missing_claims_are_refused(anonymous, registered):
    _refused_as_invalid_client(_token_request(anonymous, _sign(registered, _claims(exp=int(time.time()) - 120))))
    _refused_as_invalid_client(_token_request(anonymous, _sign(registered, _claims(jti=None))))
    _refused_as_invalid_client(_token_request(anonymous, _sign(registered, _claims(sub="other"))))


def test_alg_none_is_refused(anonymous, registered):
    unsigned = jwt.encode(_claims(), None, algorithm="none", headers={"kid": registered["kid"]})
    _refused_as_invalid_client(_token_request(anonymous, unsigned))


def test_hs256_signed_with_the_public_key_is_refused(anonymous, registered, client_key):
    public = client_key[1]["keys"][0]
    pem = jwt.PyJWK(public).key.public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT","kid":"test-key-1"}').rstrip(b"=")
    import hashlib
    import hmac
    import json

    payload = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=")
    signature = base64.urlsafe_b64encode(hmac.new(pem, header + b"." + payload, hashlib.sha256).digest()).rstrip(b"=")
    _refused_as_invalid_client(_token_request(anonymous, (header + b"." + payload + b"." + signature).decode()))


def test_unknown_kid_and_duplicate_kids_are_refused(app, anonymous, registered):
    _refused_as_invalid_client(_token_request(anonymous, _sign(dict(registered, kid="nope"), _claims())))
    one, jwks_one = generate_key("same", "EC")
    _two, jwks_two = generate_key("same", "EC")
    register_client(app, "twin", {"keys": jwks_one["keys"] + jwks_two["keys"]})
    _refused_as_invalid_client(_token_request(anonymous, _sign(one, _claims(iss="twin", sub="twin"))))


def test_key_type_must_fit_the_algorithm(app, anonymous, registered):
    rsa_private, rsa_jwks = generate_key("rsa-as-ec", "RSA")
    register_client(app, "mixed", {"keys": [dict(rsa_jwks["keys"][0], kid="test-key-1")]})
    forged = jwt.encode(_claims(iss="mixed", sub="mixed"), jwt.PyJWK(registered, algorithm="ES384").key,
                        algorithm="ES384", headers={"kid": "test-key-1"})
    _refused_as_invalid_client(_token_request(anonymous, forged))


def test_es256_is_refused_when_not_configured(anonymous, app):
    private, jwks = generate_key("p256", "EC")
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm
    import orjson

    key = ec.generate_private_key(ec.SECP256R1())
    jwk = orjson.loads(ECAlgorithm.to_jwk(key))
    jwk.update(kid="p256")
    register_client(app, "p256-client", {"keys": [{k: v for k, v in jwk.items() if k != "d"}]})
    assertion = jwt.encode(_claims(iss="p256-client", sub="p256-client"), key, algorithm="ES256",
                           headers={"kid": "p256"})
    _refused_as_invalid_client(_token_request(anonymous, assertion))


def test_a_jku_header_is_ignored(anonymous, registered):
    attacker, _attacker_jwks = generate_key("test-key-1", "EC")
    assertion = _sign(attacker, _claims(), headers={"jku": "http://127.0.0.1:9/evil-jwks.json"})
    _refused_as_invalid_client(_token_request(anonymous, assertion))


def test_disabled_client_gets_no_token_and_its_tokens_stop_working(app, anonymous, registered):
    token = fetch_token(anonymous, TOKEN_URL, "svc", registered, scope="system/*.rs")
    auth = {"Authorization": f"Bearer {token}"}
    assert anonymous.get("/fhir/_history", headers=auth).status_code == 200
    app.extensions["dthub.auth"].registry.set_enabled("svc", False)
    assert anonymous.get("/fhir/_history", headers=auth).status_code == 401
    _refused_as_invalid_client(_token_request(anonymous, _sign(registered, _claims())))
    app.extensions["dthub.auth"].registry.set_enabled("svc", True)
    assert anonymous.get("/fhir/_history", headers=auth).status_code == 200


def test_unknown_client_is_refused(anonymous, registered):
    _refused_as_invalid_client(_token_request(anonymous, _sign(registered, _claims(iss="ghost", sub="ghost"))))


def test_grant_type_and_assertion_type_errors(anonymous, registered):
    bad_grant = _token_request(anonymous, _sign(registered, _claims()), grant_type="password")
    assert bad_grant.status_code == 400 and bad_grant.get_json()["error"] == "unsupported_grant_type"
    bad_type = _token_request(anonymous, _sign(registered, _claims()), client_assertion_type="basic")
    assert bad_type.status_code == 400 and bad_type.get_json()["error"] == "invalid_request"
    not_form = anonymous.post("/auth/token", json={"grant_type": "client_credentials"})
    assert not_form.status_code == 400 and not_form.get_json()["error"] == "invalid_request"


# ---------------------------------------------------------------- scopes
def test_granted_scope_is_the_intersection_of_asked_and_allowed(anonymous, registered):
    body = _token_request(anonymous, _sign(registered, _claims()), scope="system/*.cruds").get_json()
    granted = set(body["scope"].split())
    assert "system/Task.cruds" in granted and "system/*.rs" in granted
    assert not any(s.endswith(".cruds") and not s.startswith("system/Task") for s in granted)


def test_scope_escalation_or_empty_scope_is_invalid_scope(anonymous, registered):
    for scope in ("system/Organization.c", "", "patient/*.read", "system/Organization.d system/Consent.u"):
        response = _token_request(anonymous, _sign(registered, _claims()), scope=scope)
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_scope", scope
    response = anonymous.post("/auth/token", data={"grant_type": "client_credentials",
                                                   "client_assertion_type": ASSERTION_TYPE,
                                                   "client_assertion": _sign(registered, _claims())})
    assert response.get_json()["error"] == "invalid_scope"


def test_v1_scopes_are_aliases(anonymous, registered):
    body = _token_request(anonymous, _sign(registered, _claims()), scope="system/Task.read system/Task.write").get_json()
    assert body["scope"] == "system/Task.cruds"


def test_calls_outside_the_granted_scope_are_403(app, client_key):
    reader = authorised_client(app, client_key, "reader", scopes="system/Organization.rs")
    from tests.helpers import organization, put_json

    response = put_json(reader, "/fhir/Organization/A81001", organization())
    assert response.status_code == 403
    assert response.get_json()["issue"][0]["code"] == "forbidden"
    assert reader.get("/fhir/Task/_history").status_code == 403
    assert reader.get("/fhir/_history").status_code == 403  # system level needs a wildcard grant
    assert reader.get("/fhir/Organization/_history").status_code == 200


# ---------------------------------------------------------------- purpose of use
def test_purpose_defaults_selection_and_refusal(app, anonymous, registered, client_key):
    chosen = _token_request(anonymous, _sign(registered, _claims(purpose_of_use="HQUALIMP"))).get_json()
    assert chosen["purpose_of_use"] == "HQUALIMP"
    refused = _token_request(anonymous, _sign(registered, _claims(purpose_of_use="HMARKT")))
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_request"
    listy = _token_request(anonymous, _sign(registered, _claims(purpose_of_use=["HOPERAT"])))
    assert listy.status_code == 400
    register_client(app, "no-purpose", client_key[1], purposes=())
    none = _token_request(anonymous, _sign(registered, _claims(iss="no-purpose", sub="no-purpose"))).get_json()
    assert none["purpose_of_use"] == "HMARKT"
    decoded = jwt.decode(none["access_token"], options={"verify_signature": False})
    assert decoded["purpose_of_use"] == "HMARKT"


# ---------------------------------------------------------------- bearer tokens on FHIR calls
def _server_token(app, **overrides) -> str:
    keys = app.extensions["dthub.auth"].server_keys
    kid, key = keys.signing_key()
    now = int(time.time())
    claims = {"iss": "http://fhir.test", "sub": "svc", "aud": "http://fhir.test/fhir", "iat": now,
              "exp": now + 300, "jti": "x", "scope": "system/*.rs", "purpose_of_use": "HOPERAT"}
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def test_expired_token_is_401_expired_within_leeway_is_accepted(app, anonymous, registered):
    now = int(time.time())
    recent = _server_token(app, exp=now - 30)
    assert anonymous.get("/fhir/_history", headers={"Authorization": f"Bearer {recent}"}).status_code == 200
    stale = _server_token(app, exp=now - 90)
    response = anonymous.get("/fhir/_history", headers={"Authorization": f"Bearer {stale}"})
    assert response.status_code == 401
    assert response.get_json()["issue"][0]["code"] == "expired"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_malformed_forged_or_foreign_tokens_are_401(app, anonymous, registered):
    good = _server_token(app)
    header, payload, signature = good.split(".")
    tampered = ".".join([header, base64.urlsafe_b64encode(b'{"sub":"svc","scope":"system/*.cruds"}').decode().rstrip("="), signature])
    foreign_key, _ = generate_key("server-like", "RSA")
    foreign = jwt.encode({"sub": "svc", "aud": "http://fhir.test/fhir", "iss": "http://fhir.test",
                          "exp": int(time.time()) + 100, "scope": "system/*.rs"},
                         jwt.PyJWK(foreign_key, algorithm="RS384").key, algorithm="RS384",
                         headers={"kid": jwt.get_unverified_header(good)["kid"]})
    wrong_audience = _server_token(app, aud="http://other/fhir")
    for token in ("garbage", tampered, foreign, wrong_audience, "a.b.c"):
        response = anonymous.get("/fhir/_history", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
    assert anonymous.get("/fhir/_history", headers={"Authorization": f"Basic {good}"}).status_code == 401


def test_token_in_the_query_string_is_not_accepted(app, anonymous, registered):
    token = _server_token(app)
    response = anonymous.get(f"/fhir/_history?access_token={token}")
    assert response.status_code == 401
    assert "query string" in response.get_json()["issue"][0]["diagnostics"]


def test_server_key_rotation_keeps_tokens_in_flight_valid(app, anonymous, registered):
    before = fetch_token(anonymous, TOKEN_URL, "svc", registered, scope="system/*.rs")
    new_kid = app.extensions["dthub.auth"].server_keys.rotate()
    after = fetch_token(anonymous, TOKEN_URL, "svc", registered, scope="system/*.rs")
    assert jwt.get_unverified_header(after)["kid"] == new_kid != jwt.get_unverified_header(before)["kid"]
    for token in (before, after):
        assert anonymous.get("/fhir/_history", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    published = {k["kid"] for k in anonymous.get("/auth/jwks").get_json()["keys"]}
    assert {jwt.get_unverified_header(before)["kid"], new_kid} <= published


def test_rate_limit_answers_429_with_retry_after(database_url, client_key):
    app = create_app(make_config(database_url, rate_limit_per_minute=3))
    limited = authorised_client(app, client_key)
    statuses = [limited.get("/fhir/CodeSystem/data-type").status_code for _ in range(4)]
    assert statuses[:3] == [200, 200, 200] and statuses[3] == 429
    response = limited.get("/fhir/CodeSystem/data-type")
    assert int(response.headers["Retry-After"]) >= 1
    assert response.get_json()["issue"][0]["code"] == "throttled"
    close_app(app)


def test_nothing_in_the_request_widens_the_principal(app, client_key):
    reader = authorised_client(app, client_key, "org-reader", scopes="system/Organization.rs", role="external")
    widening = {"X-Client-Id": "test-service", "X-Role": "service", "X-Scope": "system/*.cruds",
                "X-Purpose-Of-Use": "HOPERAT"}
    response = reader.get("/fhir/Task/_history?scope=system/*.cruds&client_id=test-service&role=service",
                          headers=widening)
    assert response.status_code == 403
    from adapter.auth.bearer import authenticate

    token = reader.environ_base["HTTP_AUTHORIZATION"].split()[1]
    principal = authenticate(app.extensions["dthub.auth"], f"Bearer {token}", token_in_query=False)
    assert (principal.client_id, principal.role, principal.org, principal.purpose) == (
        "org-reader", "external", None, "HOPERAT")
