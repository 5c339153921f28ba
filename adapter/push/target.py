"""The target FHIR server, seen from the pusher: SMART Backend Services discovery and tokens,
transaction Bundles sent through fhirpy, retries of transient failures, and bisection of refused
transactions down to the entries the target refuses.

Never logs or reports a token."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import requests
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import BaseFHIRError

from ..auth.assertion import sign_assertion
from ..auth.token_endpoint import ASSERTION_TYPE

TRANSIENT = frozenset({408, 425, 429, 500, 502, 503, 504})


class TargetUnavailable(Exception):
    """Unreachable, or still failing after the retries, or refusing our credentials (exit 3)."""


@dataclass
class Refusal:
    resource_type: str
    id: str
    status: int
    text: str


@dataclass
class Outcome:
    """Per entry of what was sent: its HTTP status on the target (201 created, 200 updated)."""
    statuses: dict[tuple[str, str], int] = field(default_factory=dict)
    refused: list[Refusal] = field(default_factory=list)


def _outcome_text(body) -> str:
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        parts = [i.get("diagnostics") or (i.get("details") or {}).get("text") or i.get("code") or ""
                 for i in body.get("issue") or []]
        return "; ".join(p for p in parts if p) or "refused"
    return str(body)[:500] if body else "refused"


class Target:
    def __init__(self, base: str, client_id: str, jwk: dict, *, scope: str, retries: int = 5,
                 backoff: float = 1.0, timeout: float = 60.0, sleep: Callable[[float], None] = time.sleep):
        self.base = base.rstrip("/")
        self._client_id = client_id
        self._jwk = jwk
        self._scope = scope
        self._retries = retries
        self._backoff = backoff
        self._timeout = timeout
        self._sleep = sleep
        self._token_url: str | None = None
        self._client: SyncFHIRClient | None = None
        self._last: requests.Response | None = None
        self.requests = 0

    # -- authentication ---------------------------------------------------------------------------
    def _retrying(self, what: str, call):
        """`call()` with exponential backoff on connection errors and transient statuses."""
        for attempt in range(self._retries + 1):
            self._last = None
            try:
                self.requests += 1
                return call()
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem = f"{what}: {exc.__class__.__name__}"
            except BaseFHIRError as exc:
                status = self._last.status_code if self._last is not None else None
                if status not in TRANSIENT:
                    raise
                problem = f"{what}: HTTP {status}"
                retry_after = (self._last.headers.get("Retry-After") or "") if self._last is not None else ""
                if retry_after.isdigit() and attempt < self._retries:
                    self._sleep(min(float(retry_after), 60.0))
                    continue
            if attempt < self._retries:
                self._sleep(self._backoff * (2 ** attempt))
        raise TargetUnavailable(f"target {self.base} unavailable: {problem} (after {self._retries + 1} attempts)")

    def token_url(self) -> str:
        if self._token_url is None:
            def discover():
                response = requests.get(f"{self.base}/.well-known/smart-configuration", timeout=self._timeout,
                                        headers={"Accept": "application/json"})
                if response.status_code in TRANSIENT:
                    raise requests.ConnectionError(f"HTTP {response.status_code}")
                if response.status_code != 200:
                    raise TargetUnavailable(f"{self.base}/.well-known/smart-configuration answered "
                                            f"{response.status_code}: not a SMART Backend Services server")
                try:
                    return response.json()["token_endpoint"]
                except (ValueError, KeyError, TypeError) as exc:
                    raise TargetUnavailable(f"{self.base}/.well-known/smart-configuration names no "
                                            f"token_endpoint") from exc
            self._token_url = self._retrying("discovery", discover)
        return self._token_url

    def authenticate(self) -> None:
        token_url = self.token_url()

        def fetch():
            # A fresh assertion (and jti) per attempt: the target refuses a replayed one.
            assertion = sign_assertion(self._jwk, self._client_id, token_url)
            response = requests.post(token_url, timeout=self._timeout, data={
                "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion, "scope": self._scope})
            if response.status_code in TRANSIENT:
                raise requests.ConnectionError(f"HTTP {response.status_code}")
            try:
                body = response.json()
            except ValueError:
                body = {}
            if response.status_code != 200 or not body.get("access_token"):
                raise TargetUnavailable(f"the target's token endpoint refused {self._client_id!r} "
                                        f"({response.status_code}): {body.get('error')}: {body.get('error_description')}")
            return body["access_token"]
        token = self._retrying("token request", fetch)

        def remember(response, *args, **kwargs):
            self._last = response
            return response
        self._client = SyncFHIRClient(self.base, authorization=f"Bearer {token}",
                                      extra_headers={"Prefer": "return=minimal"},
                                      requests_config={"timeout": self._timeout, "hooks": {"response": remember}})

    # -- sending --------------------------------------------------------------------------------
    def _post(self, bundle: dict) -> dict:
        if self._client is None:
            self.authenticate()
        for renewed in (False, True):
            try:
                return self._retrying("transaction", lambda: self._client.execute("", method="post", data=bundle))
            except BaseFHIRError:
                # Tokens live minutes; a long push outlives them: one fresh token, then give up.
                if self._last is not None and self._last.status_code == 401 and not renewed:
                    self.authenticate()
                    continue
                raise
        raise AssertionError("unreachable")

    def send(self, bodies: list[dict], bundle_of: Callable[[list[dict]], dict],
             acknowledged: Callable[[list[dict], dict], None]) -> Outcome:
        """Send `bodies` as one transaction; when the target refuses it (a 4xx), halve it until
        the entries it refuses are found, so one bad resource does not hold back the others.
        `acknowledged(bodies, statuses)` runs after each transaction the target committed."""
        outcome = Outcome()
        self._send(bodies, bundle_of, outcome, acknowledged)
        return outcome

    def _send(self, bodies: list[dict], bundle_of, outcome: Outcome, acknowledged) -> None:
        if not bodies:
            return
        try:
            answer = self._post(bundle_of(bodies))
        except BaseFHIRError as exc:
            status = self._last.status_code if self._last is not None else 0
            if status == 401:
                raise TargetUnavailable("the target refused our token (401) after a fresh one") from exc
            if len(bodies) == 1:
                body = bodies[0]
                outcome.refused.append(Refusal(body["resourceType"], body["id"], status, _refusal_text(self._last, exc)))
                return
            middle = len(bodies) // 2
            self._send(bodies[:middle], bundle_of, outcome, acknowledged)
            self._send(bodies[middle:], bundle_of, outcome, acknowledged)
            return
        entries = (answer or {}).get("entry") or []
        statuses = {}
        for body, entry in zip(bodies, entries):
            status = str(((entry or {}).get("response") or {}).get("status") or "200").split(" ")[0]
            statuses[(body["resourceType"], body["id"])] = int(status) if status.isdigit() else 200
        outcome.statuses.update(statuses)
        acknowledged(bodies, statuses)


def _refusal_text(response, exc) -> str:
    if response is not None:
        try:
            return _outcome_text(response.json())
        except ValueError:
            return (response.text or "")[:500] or f"HTTP {response.status_code}"
    return str(exc)[:500]
