"""R4 rest-hook notifications end to end over real HTTP (both stores): a live server with its
notifier, real tokens over `requests`, and a webhook receiver on 127.0.0.1 (the one host the
test configuration allows). Waits poll with a deadline; nothing asserts on timing.

The world: the oracle's organisations, with the PCN contract C-U1-ALL in force (so PCN U00001
sees its practices' Tasks at practice level, staff masked) and none for PCN U00002 (which may
then see aggregates only)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.conftest import close_app, fetch_token, register_client, start_live_server
from tests.helpers import task
from tests.policy_oracle import CONTRACTS, STAFF_NAME, TODAY, contract_consent, expected_scope, organization_resources, \
    practice_resources

FHIR_JSON = "application/fhir+json"
PACKAGE = Path(__file__).resolve().parents[1] / "fixtures" / "packages" / "basic"
PCN_CONTRACT = next(c for c, _ in CONTRACTS if c["id"] == "C-U1-ALL")
DEADLINE = 60.0


class Receiver:
    """A webhook endpoint: records every request; paths under /fail answer 500."""

    def __init__(self):
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver._lock:
                    receiver.requests.append({"method": self.command, "path": self.path,
                                              "headers": dict(self.headers), "body": body})
                self.send_response(500 if self.path.startswith("/fail") else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = _record

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def at(self, prefix: str) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["path"].startswith(prefix)]

    def wait_for(self, prefix: str, count: int) -> list[dict]:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            found = self.at(prefix)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{prefix}: {len(self.at(prefix))} notifications, expected {count}")

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def server(database_url):
    live = start_live_server(database_url, policy_today=TODAY.isoformat(), rate_limit_per_minute=0,
                             subscription_allowed_hosts=("127.0.0.1",), subscription_poll_seconds=0.05,
                             subscription_retry_seconds=0.05, subscription_retry_max_seconds=0.2,
                             subscription_max_failures=3, subscription_timeout_seconds=2)
    repo = live.app.extensions["dthub"].repo
    for org in organization_resources():
        repo.put("Organization", org["id"], org)
    repo.put("Consent", PCN_CONTRACT["id"], contract_consent(PCN_CONTRACT))
    yield live
    live.stop()
    close_app(live.app)


class Caller:
    def __init__(self, server, client_key, client_id, role, org, scopes="system/*.cruds"):
        private, jwks = client_key
        register_client(server.app, client_id, jwks, role=role, org=org, scopes=scopes, purposes=("HOPERAT",))
        token = fetch_token(requests, server.token_url, client_id, private, scope=scopes)
        self.fhir = server.fhir
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": FHIR_JSON, "Accept": FHIR_JSON}

    def post(self, path, body):
        return requests.post(f"{self.fhir}/{path}", data=json.dumps(body), headers=self.headers, timeout=30)

    def put(self, path, body):
        return requests.put(f"{self.fhir}/{path}", data=json.dumps(body), headers=self.headers, timeout=30)

    def get(self, path):
        return requests.get(f"{self.fhir}/{path}", headers=self.headers, timeout=30)

    def subscribe(self, criteria, endpoint, payload=None, header=()):
        channel = {"type": "rest-hook", "endpoint": endpoint}
        if header:
            channel["header"] = list(header)
        if payload:
            channel["payload"] = payload
        response = self.post("Subscription", {"resourceType": "Subscription", "status": "requested",
                                              "reason": "test", "criteria": criteria, "channel": channel})
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "active"
        return response.json()["id"]


def _settled(server):
    """Wait until the notifier has matched every version written so far and sent its queue."""
    notifier = server.app.extensions["dthub.subscriptions"]
    target = server.app.extensions["dthub"].repo.max_seq()
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if (notifier.outbox.cursor() or 0) >= target and notifier.outbox.pending() == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the notifier did not catch up")


def test_matching_writes_notify_each_subscriber_as_it_may_see_them(server, receiver, client_key):
    # The premise, from the oracle: PCN U00001 sees A00001's actions (not its staff); U00002 no practice rows.
    assert "A00001" in expected_scope("pcn", "U00001", "HOPERAT", "actions", "practice", [PCN_CONTRACT])
    assert not expected_scope("pcn", "U00002", "HOPERAT", "actions", "practice", [PCN_CONTRACT])
    service = Caller(server, client_key, "svc", "service", None)
    pcn = Caller(server, client_key, "pcn-u1", "pcn", "U00001")
    aggregate_only = Caller(server, client_key, "pcn-u2", "pcn", "U00002")
    service.subscribe("Task?subject=Organization/A00001", f"{receiver.base}/svc")
    pcn.subscribe("Task?status=in-progress", f"{receiver.base}/pcn-json", FHIR_JSON,
                  header=["Authorization: Bearer pcn-hook-secret"])
    pcn.subscribe("Task", f"{receiver.base}/pcn-xml", "application/fhir+xml")
    aggregate_only.subscribe("Task", f"{receiver.base}/pcn-u2", FHIR_JSON)

    staffed = practice_resources("A00001")["task"]
    assert STAFF_NAME in json.dumps(staffed)
    assert service.put(f"Task/{staffed['id']}", staffed).status_code == 201
    # Matches no service criteria, and is outside PCN U00001: nobody is told.
    assert service.post("Task", {k: v for k, v in task(practice="B00001").items() if k != "id"}).status_code == 201

    [empty] = receiver.wait_for("/svc", 1)
    assert empty["method"] == "POST" and empty["path"] == "/svc" and empty["body"] == b""
    [put] = receiver.wait_for("/pcn-json", 1)
    assert put["method"] == "PUT" and put["path"] == f"/pcn-json/Task/{staffed['id']}"
    assert put["headers"]["Authorization"] == "Bearer pcn-hook-secret"
    assert put["headers"]["Content-Type"].startswith(FHIR_JSON)
    view = json.loads(put["body"])
    assert view["resourceType"] == "Task" and view["id"] == staffed["id"]
    assert STAFF_NAME not in put["body"].decode() and "Practice Manager" not in put["body"].decode()
    labels = {c["code"] for c in view["meta"]["security"]}
    assert {"REDACTED", "NOREUSE"} <= labels
    assert view == pcn.get(f"Task/{staffed['id']}").json()  # exactly what a read would serve it
    [xml] = receiver.wait_for("/pcn-xml", 1)
    assert xml["path"] == f"/pcn-xml/Task/{staffed['id']}" and xml["headers"]["Content-Type"].startswith(
        "application/fhir+xml")
    from adapter.formats.xml import parse_xml

    assert parse_xml(xml["body"]) == view and STAFF_NAME.encode() not in xml["body"]

    _settled(server)
    assert receiver.at("/pcn-u2") == []
    assert len(receiver.at("/svc")) == 1 and len(receiver.at("/pcn-json")) == 1 and len(receiver.at("/pcn-xml")) == 1

    # A transaction's write notifies too (A00002 is a U00001 practice).
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{
        "fullUrl": "urn:uuid:8f1d3c5e-0a77-4d2b-9e55-1b0c2f6d9a10", "resource": task("A-TX-1", "A00002"),
        "request": {"method": "PUT", "url": "Task/A-TX-1"}}]}
    assert service.post("", bundle).status_code == 200
    receiver.wait_for("/pcn-json/Task/A-TX-1", 1)
    _settled(server)
    assert receiver.at("/pcn-u2") == [] and len(receiver.at("/svc")) == 1

    # Each notification is an AuditEvent of the subscriber's client, naming the resource, without headers.
    server.app.extensions["dthub.audit"].flush()
    events = pcn.get("AuditEvent?_count=1000").json()
    notified = [e["resource"] for e in events.get("entry", [])
                if "notification" in (e["resource"].get("outcomeDesc") or "")
                or e["resource"].get("subtype", [{}])[0].get("code") == "operation"]
    assert notified, "no AuditEvent of a notification"
    text = json.dumps(notified)
    assert f"Task/{staffed['id']}" in text and "A00001" in text
    assert "pcn-hook-secret" not in json.dumps(service.get("AuditEvent?_count=1000").json())
    assert "pcn-hook-secret" not in text


def test_a_failing_endpoint_is_retried_then_the_subscription_is_set_to_error(server, receiver, client_key, caplog):
    caplog.set_level("DEBUG")
    service = Caller(server, client_key, "svc", "service", None)
    failing = service.subscribe("Task", f"{receiver.base}/fail", FHIR_JSON, header=["X-Hook-Key: fail-secret-91"])
    refused = service.subscribe("Task", f"http://127.0.0.1:{_closed_port()}/hook")
    healthy = service.subscribe("Task", f"{receiver.base}/ok")
    assert service.put("Task/A-FAIL-1", task("A-FAIL-1", "A00001")).status_code == 201

    deadline = time.monotonic() + DEADLINE
    states = {}
    while time.monotonic() < deadline:
        states = {sid: service.get(f"Subscription/{sid}").json() for sid in (failing, refused)}
        if all(s["status"] == "error" for s in states.values()):
            break
        time.sleep(0.05)
    assert all(s["status"] == "error" for s in states.values()), states
    assert len(receiver.at("/fail")) == 3  # DTHUB_SUBSCRIPTION_MAX_FAILURES attempts, then no more
    assert all(r["headers"]["X-Hook-Key"] == "fail-secret-91" for r in receiver.at("/fail"))
    assert "fail-secret-91" not in caplog.text and "failed (attempt 1)" in caplog.text
    assert "HTTP 500" in states[failing]["error"] and "3 consecutive" in states[failing]["error"]
    assert "could not be reached" in states[refused]["error"]
    assert service.get(f"Subscription/{failing}/_history").json()["total"] == 2  # the server's version
    assert len(receiver.wait_for("/ok", 1)) == 1

    # In error, nothing more is sent; sending `requested` again reactivates it.
    assert service.put("Task/A-FAIL-2", task("A-FAIL-2", "A00001")).status_code == 201
    receiver.wait_for("/ok", 2)
    _settled(server)
    assert len(receiver.at("/fail")) == 3
    again = dict(states[failing], status="requested", channel=dict(states[failing]["channel"],
                                                                     endpoint=f"{receiver.base}/ok-again"))
    reactivated = service.put(f"Subscription/{failing}", again)
    assert reactivated.status_code == 200 and reactivated.json()["status"] == "active"
    assert "error" not in reactivated.json()
    assert service.put("Task/A-FAIL-3", task("A-FAIL-3", "A00001")).status_code == 201
    receiver.wait_for("/ok-again", 1)


def test_a_write_by_dthub_import_in_another_process_is_notified(server, receiver, client_key, database_url):
    service = Caller(server, client_key, "svc", "service", None)
    service.subscribe("Task?subject=Organization/A81001", f"{receiver.base}/import", FHIR_JSON)
    env = {**os.environ, "DTHUB_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "adapter.cli", "import", str(PACKAGE), "--workers", "0"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    put = receiver.wait_for("/import/Task/", 1)[0]
    assert json.loads(put["body"])["for"]["reference"] == "Organization/A81001"
    _settled(server)
    imported = service.get("Task?subject=Organization/A81001&_summary=count").json()["total"]
    assert len(receiver.at("/import/Task/")) == imported
