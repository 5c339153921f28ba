"""Authentication as outsiders do it: JWKS URLs over HTTP, and a client built only from fhirpy + PyJWT."""
from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
import requests
from fhirpy import SyncFHIRClient

from adapter.auth.assertion import generate_key
from tests.conftest import register_client

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class _KeyHost:
    """A tiny JWKS host on loopback: serves keys, redirects, oversize bodies, errors."""

    def __init__(self, routes: dict):
        host = self
        self.hits = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server API)
                host.hits += 1
                status, headers, body = routes.get(self.path, (404, {}, b"{}"))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self):
        self._server.shutdown()


def _assertion(private: dict, client_id: str, token_url: str, alg: str = "ES384") -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": token_url, "exp": now + 120, "iat": now,
              "jti": uuid.uuid4().hex}
    return jwt.encode(claims, jwt.PyJWK(private, algorithm=alg).key, algorithm=alg, headers={"kid": private["kid"]})


def _token(live_server, assertion: str, scope: str = "system/*.rs") -> requests.Response:
    return requests.post(live_server.token_url, timeout=10, data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion, "scope": scope})


@pytest.fixture
def key_host():
    private, jwks = generate_key("url-key", "EC")
    body = json.dumps(jwks).encode()
    host = _KeyHost({
        "/jwks.json": (200, {"Content-Type": "application/json"}, body),
        "/moved": (302, {"Location": "/jwks.json"}, b""),
        "/elsewhere": (302, {"Location": "http://localhost:9/jwks.json"}, b""),
        "/huge": (200, {"Content-Type": "application/json"}, b'{"keys": [' + b" " * 200_000 + b"]}"),
        "/broken": (500, {}, b"oops"),
    })
    yield private, host
    host.stop()


def test_jwks_url_is_fetched_cached_and_followed_on_the_same_host(live_server, key_host):
    private, host = key_host
    for client_id, path in (("url-client", "/jwks.json"), ("moved-client", "/moved")):
        live_server.app.extensions["dthub.auth"].registry.add(
            client_id, org=None, role="service", scopes="system/*.rs", purposes=["HOPERAT"],
            jwks_url=host.url + path)
        assert _token(live_server, _assertion(private, client_id, live_server.token_url)).status_code == 200
    hits = host.hits
    assert _token(live_server, _assertion(private, "url-client", live_server.token_url)).status_code == 200
    assert host.hits == hits  # served from the cache


@pytest.mark.parametrize("path", ["/elsewhere", "/huge", "/broken", "/missing"])
def test_an_unusable_jwks_url_fails_closed(live_server, key_host, path):
    private, host = key_host
    live_server.app.extensions["dthub.auth"].registry.add(
        "bad-url", org=None, role="service", scopes="system/*.rs", purposes=[], jwks_url=host.url + path)
    response = _token(live_server, _assertion(private, "bad-url", live_server.token_url))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_unreachable_jwks_host_fails_closed(live_server, key_host):
    private, _host = key_host
    live_server.app.extensions["dthub.auth"].registry.add(
        "gone-host", org=None, role="service", scopes="system/*.rs", purposes=[],
        jwks_url="http://127.0.0.1:9/jwks.json")
    assert _token(live_server, _assertion(private, "gone-host", live_server.token_url)).status_code == 401


def test_a_client_written_with_fhirpy_and_pyjwt_only_authenticates(live_server, client_key):
    """No project code on the client side: discovery, assertion, token request and FHIR calls."""
    private, jwks = client_key
    register_client(live_server.app, "outsider", jwks, scopes="system/*.cruds")
    discovery = requests.get(f"{live_server.fhir}/.well-known/smart-configuration", timeout=10).json()
    token_url = discovery["token_endpoint"]
    now = int(time.time())
    assertion = jwt.encode({"iss": "outsider", "sub": "outsider", "aud": token_url, "exp": now + 240,
                            "jti": str(uuid.uuid4())},
                           jwt.PyJWK(private, algorithm="ES384").key, algorithm="ES384",
                           headers={"kid": private["kid"]})
    token = requests.post(token_url, timeout=10, data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion, "scope": "system/Organization.cruds"}).json()["access_token"]
    client = SyncFHIRClient(live_server.fhir, authorization=f"Bearer {token}")
    client.resource("Organization", id="Y00001", name="OUTSIDE TEST",
                    identifier=[{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "Y00001"}]).save()
    assert client.reference("Organization", "Y00001").to_resource()["name"] == "OUTSIDE TEST"
