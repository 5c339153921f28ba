"""The notifier: a background thread per process, off the request path.

Each pass
1. *matches*: reads the versions written since the cursor (any writer: HTTP, transactions,
   `dthub import` in another process), and for each active Subscription whose criteria type it
   is, asks whether the resource matches the criteria *as the subscriber may see it*: the search
   engine with `_id` added and the subscriber's SQL narrowing, then the engine's judgement. The
   matches are queued with the cursor's move, in the transaction that holds the cursor while
   matching, so one notifier matches each batch (outbox.py).
2. *delivers*: claims due deliveries one at a time, each right before sending it (delivery.py),
   until none is due (a queue drains in one pass, within a time budget), judged again as the
   subscriber may see it now, masked and labelled as a read would serve it. A failure is retried
   with exponential backoff; after `max_failures` consecutive failures the Subscription gets
   `status = error` and an `error` text (a new version written by the server) and its queue is
   dropped. Every notification that leaves is an AuditEvent of the subscriber's client.

A version that is no longer its resource's current version is skipped (the newer one is matched
in its turn); deletions notify no one.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
import weakref
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import parse_qsl

from ..auth.principal import Principal
from ..enforcement.gate import Gate
from ..formats.json_format import to_json
from ..formats.xml import to_xml
from ..outcomes import OperationOutcomeError
from ..search.query import SearchQuery, parse_search
from .admission import SUBSCRIBABLE, header_lines, payload_format, purpose_of
from .delivery import DeliveryFailed, resource_url, send
from .endpoints import EndpointRefused, check_endpoint
from .outbox import Delivery, NewVersion, Outbox

log = logging.getLogger("dthub.subscriptions")

MIME = {"json": "application/fhir+json; fhirVersion=4.0", "xml": "application/fhir+xml; fhirVersion=4.0"}
BATCH = 500
# How long one pass may keep delivering before it matches again (new versions wait meanwhile).
DELIVER_BUDGET_SECONDS = 5.0


class _Active:
    """An active Subscription as the matcher needs it."""

    def __init__(self, stored, body: dict):
        self.id = stored.id
        self.seq = stored.seq
        self.body = body
        type_, _, query = body["criteria"].strip().partition("?")
        self.resource_type = type_
        self.params = tuple(parse_qsl(query, keep_blank_values=True))
        from ..policy.resources import subscription_owner

        self.client_id = subscription_owner(body)
        self.purpose = purpose_of(body)

    def query_for(self, id_: str) -> SearchQuery:
        return parse_search(self.resource_type, self.params + (("_id", id_),))


def _ended(body: dict) -> bool:
    end = body.get("end")
    if not end:
        return False
    try:
        moment = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment <= datetime.now(timezone.utc)


def _live(body: dict | None) -> bool:
    return bool(body) and body.get("status") == "active" and not _ended(body) \
        and body.get("criteria", "").partition("?")[0] in SUBSCRIBABLE


class Notifier:
    def __init__(self, ctx, registry, record_audit: Callable, *, owner: str | None = None):
        self._ctx = ctx
        self._config = ctx.config
        self._registry = registry
        self._record_audit = record_audit
        self.outbox = Outbox(ctx.repo.engine)
        self._owner = owner or uuid.uuid4().hex[:16]
        self._gaps: dict[int, int] = {}   # first missing seq -> xmax when first seen (PostgreSQL)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()     # one pass at a time (thread, run_once from a test)

    # -- the thread -----------------------------------------------------------------------------
    def start(self) -> None:
        self.outbox.start_cursor()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="dthub-subscriptions", daemon=True)
        self._thread.start()
        ref = weakref.ref(self)  # a weak one: a stopped, dropped notifier must not live on in the hook
        os.register_at_fork(after_in_child=lambda: (n := ref()) is not None and n._after_fork())

    def _after_fork(self) -> None:  # threads do not survive a fork: a gunicorn worker starts its own
        self._owner = uuid.uuid4().hex[:16]
        self._lock = threading.Lock()
        if self._thread is not None and not self._stop.is_set():
            self._thread = threading.Thread(target=self._run, name="dthub-subscriptions", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            busy = False
            try:
                busy = self.run_once()
            except Exception:  # the thread must outlive a bad pass (store briefly away, ...)
                log.exception("subscription notifier pass failed")
            if not busy:  # a pass that found work goes again at once: a queue drains at send speed
                self._stop.wait(self._config.subscription_poll_seconds)

    def run_once(self) -> bool:
        """Match what is new, then deliver what is due; True if there was anything to do."""
        with self._lock:
            matched = False
            while self.match() and not self._stop.is_set():
                matched = True
            return self.deliver() > 0 or matched

    # -- matching -------------------------------------------------------------------------------
    def _active(self) -> list[_Active]:
        out = []
        for stored in self._ctx.repo.iter_current("Subscription"):
            try:
                body = stored.resource()
                if _live(body):
                    out.append(_Active(stored, body))
            except (ValueError, KeyError, AttributeError, TypeError):
                log.warning("Subscription/%s cannot be read: skipped", stored.id)
        return out

    def _settled(self, versions: list[NewVersion], cursor: int, xmin: int | None) -> list[NewVersion]:
        """The versions up to the first gap in `seq` that a running transaction may still fill:
        on PostgreSQL a transaction can commit after one that took a later seq; a gap is settled
        once every transaction running when it was first seen has ended (if its row is still
        missing then, it was rolled back). SQLite commits writers one at a time, in seq order."""
        out, expected = [], cursor + 1
        for version in versions:
            if version.seq != expected and self.outbox.postgres:
                seen = self._gaps.get(expected)
                if seen is None:
                    self._gaps[expected] = self.outbox.snapshot_xmax()
                    break
                if xmin is None or xmin < seen:
                    break
                self._gaps.pop(expected, None)
            out.append(version)
            expected = version.seq + 1
        return out

    def match(self) -> bool:
        """Queue the notifications of the next batch of versions; True if the cursor moved."""
        if self.outbox.cursor() is None:
            self.outbox.start_cursor()
        xmin = self.outbox.snapshot_xmin()  # before the lock: an older snapshot only waits longer
        with self.outbox.matching() as (conn, cursor):  # other notifiers wait: one matches a batch
            if cursor is None:
                return False
            self._gaps = {seq: xmax for seq, xmax in self._gaps.items() if seq > cursor}
            versions = self._settled(self.outbox.versions_after(cursor, BATCH), cursor, xmin)
            if not versions:
                return False
            queued = self._queued(versions)
            return self.outbox.advance(conn, cursor, versions[-1].seq, queued)

    def _queued(self, versions: list[NewVersion]) -> list[tuple[str, str, str, int]]:
        active = [s for s in self._active() if s.client_id]
        by_type: dict[str, list[_Active]] = {}
        for sub in active:
            by_type.setdefault(sub.resource_type, []).append(sub)
        queued: list[tuple[str, str, str, int]] = []
        gates: dict[str, Gate | None] = {}
        for version in versions:
            subs = by_type.get(version.res_type)
            if not subs or version.deleted or version.current_seq != version.seq:
                continue
            stored = self._ctx.repo.read(version.res_type, version.res_id)
            if stored is None or stored.deleted or stored.seq != version.seq:
                continue
            resource = stored.resource()
            for sub in subs:
                if sub.seq >= version.seq:  # written before this Subscription (or its latest version)
                    continue
                if sub.id not in gates:
                    gates[sub.id] = self._gate(sub.body)
                gate = gates[sub.id]
                if gate is not None and self._matches(sub, gate, version.res_id, resource):
                    queued.append((sub.id, version.res_type, version.res_id, version.version_id))
        return queued

    def _matches(self, sub: _Active, gate: Gate, id_: str, resource: dict) -> bool:
        if not gate.principal.scopes.allows(sub.resource_type, "s"):
            return False
        try:
            query = sub.query_for(id_)
        except OperationOutcomeError:  # criteria our parser no longer accepts: nothing matches
            return False
        with self._ctx.repo.engine.connect() as conn:
            found = self._ctx.search.matching_ids(query, conn, limit=1, access=gate.sql)
        return bool(found) and gate.visible(resource)

    def _principal(self, subscription: dict) -> Principal | None:
        """The subscriber as a caller: its registry record now, and the purpose it subscribed for
        (while that is still one of its purposes). None: disabled or removed, nothing is sent."""
        from ..policy.resources import subscription_owner

        client_id = subscription_owner(subscription)
        record = self._registry.get_cached(client_id) if client_id else None
        if record is None or not record.enabled:
            return None
        purpose = purpose_of(subscription)
        if not record.may_act_for(purpose):
            return None
        return Principal(record.client_id, record.org, record.role, record.scopes, purpose)

    def _gate(self, subscription: dict) -> Gate | None:
        principal = self._principal(subscription)
        return Gate(self._ctx.policy, principal, self._ctx.repo) if principal else None

    # -- delivery -------------------------------------------------------------------------------
    def deliver(self) -> int:
        """Send due deliveries, each claimed right before it is sent, until none is due (or the
        budget is spent); the number handled (sent, dropped or failed)."""
        lease = int((self._config.subscription_timeout_seconds * 2 + 30) * 1000)
        deadline = time.monotonic() + DELIVER_BUDGET_SECONDS
        handled = 0
        while not self._stop.is_set() and time.monotonic() < deadline:
            delivery = self.outbox.claim_next(self._owner, lease)
            if delivery is None:
                break
            handled += 1
            try:
                self._deliver_one(delivery)
            except Exception as exc:  # noqa: BLE001 - left claimed, it would be re-sent and hold its queue forever
                log.exception("notification for Subscription/%s could not be prepared or settled",
                              delivery.subscription_id)
                self._failed(delivery, f"{type(exc).__name__}: {exc}")
        return handled

    def _deliver_one(self, delivery: Delivery) -> int:
        repo = self._ctx.repo
        stored = repo.read("Subscription", delivery.subscription_id)
        subscription = stored.resource() if stored is not None and not stored.deleted else None
        if not _live(subscription):  # deleted, off, in error or ended since it was queued
            self.outbox.drop_all(delivery.subscription_id)
            return 0
        gate = self._gate(subscription)
        version = repo.read_version(delivery.res_type, delivery.res_id, delivery.version_id)
        if gate is None or version is None or version.deleted \
                or not gate.principal.scopes.allows(delivery.res_type, "s"):
            self.outbox.done(delivery.id, self._owner)
            return 0
        channel = subscription.get("channel") or {}
        fmt = payload_format(channel.get("payload"))
        view = gate.serve(version.resource())  # as a read would serve it now: masked and labelled
        if view is None:  # no longer visible to the subscriber: nothing leaves
            self.outbox.done(delivery.id, self._owner)
            return 0
        headers = dict(header_lines(channel))
        if fmt is None:
            method, url, body = "POST", channel["endpoint"], None
        else:
            method, url = "PUT", resource_url(channel["endpoint"], delivery.res_type, delivery.res_id)
            body = to_json(view) if fmt == "json" else to_xml(view)
            headers["Content-Type"] = MIME[fmt]
        try:
            target = check_endpoint(url, self._config.subscription_allowed_hosts)
        except EndpointRefused as exc:
            self._failed(delivery, f"the endpoint was refused at delivery: {exc}")
            return 0
        try:
            status = send(target, method, body, headers, self._config.subscription_timeout_seconds)
        except DeliveryFailed as exc:
            # No answer is recorded as 503: the request may have left, the endpoint was unavailable.
            self._audit(gate, delivery, method, exc.status or 503, f"rest-hook notification failed: {exc}")
            self._failed(delivery, str(exc))
            return 0
        self._audit(gate, delivery, method, status, f"rest-hook notification delivered (HTTP {status})")
        self.outbox.done(delivery.id, self._owner)
        return 1

    def _failed(self, delivery: Delivery, reason: str) -> None:
        attempts = delivery.attempts + 1
        log.warning("notification for Subscription/%s failed (attempt %d): %s", delivery.subscription_id,
                    attempts, reason)
        delay = min(self._config.subscription_retry_seconds * 2 ** (attempts - 1),
                    self._config.subscription_retry_max_seconds)
        if not self.outbox.retry_later(delivery, self._owner, int(delay * 1000), reason):
            return  # our lease ran out and another notifier holds it: its attempts count, not ours
        if attempts >= self._config.subscription_max_failures:
            self._set_error(delivery.subscription_id, f"{attempts} consecutive notifications failed; last: {reason}")
            self.outbox.drop_all(delivery.subscription_id)

    def _set_error(self, subscription_id: str, text: str) -> None:
        def work(unit):
            current = unit.current("Subscription", subscription_id)
            if current is None or current.deleted:
                return
            body = current.resource()
            if body.get("status") != "active":
                return
            unit.put("Subscription", subscription_id, dict(body, status="error", error=text), method="PUT")

        self._ctx.repo.write_unit(work)

    def _audit(self, gate: Gate, delivery: Delivery, method: str, status: int, outcome: str) -> None:
        """The notification as data leaving the server, for the subscriber's client: the resource,
        its organisations and the deciding Consents; never the endpoint or the headers."""
        from ..audit import new_record

        p = gate.principal
        notes = gate.notes
        ref = f"{delivery.res_type}/{delivery.res_id}"
        record = new_record(
            "operation", method, f"/fhir/Subscription/{delivery.subscription_id}", status,
            client_id=p.client_id, org=p.org, role=p.role, purpose=p.purpose,
            outcome_desc=outcome, resources=((ref, notes.served.get(ref)),),
            organisations=gate.organisations(), deciding=tuple(notes.deciding))
        try:
            self._record_audit(record)
        except (OSError, RuntimeError):
            log.exception("audit spool unavailable for a notification of Subscription/%s", delivery.subscription_id)
