"""The notifier's outbox on a real store: several notifiers (gunicorn workers) queue and send each
notification once, even when a lease runs out; only a lease's holder settles a delivery; a queue
drains in one pass; a delivery that cannot be prepared counts as a failed attempt; on PostgreSQL,
a version whose transaction commits after a later one is not skipped; the queue survives a
restart."""
from __future__ import annotations

import threading
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from adapter.storage.schema import subscription_delivery

from adapter.enforcement.columns import access_columns
from adapter.search.index_store import SearchIndexer
from adapter.storage.repository import WriteUnit
from adapter.subscriptions import Notifier, notifier as notifier_module
from tests.api.test_subscriptions_live import Receiver
from tests.conftest import authorised_client, close_app, make_config
from tests.helpers import organization, post_json, task


@pytest.fixture
def setup(database_url, client_key):
    from adapter import create_app

    app = create_app(make_config(database_url, subscription_allowed_hosts=("127.0.0.1",),
                                 subscription_poll_seconds=0, subscription_timeout_seconds=2))
    receiver = Receiver()
    client = authorised_client(app, client_key, "svc", role="service")
    ctx = app.extensions["dthub"]
    ctx.repo.put("Organization", "A81001", organization())
    registry = app.extensions["dthub.auth"].registry
    trail = app.extensions["dthub.audit"]

    def notifier() -> Notifier:
        made = Notifier(ctx, registry, trail.record)
        made.outbox.start_cursor()
        return made

    response = post_json(client, "/fhir/Subscription", {
        "resourceType": "Subscription", "status": "requested", "reason": "test", "criteria": "Task",
        "channel": {"type": "rest-hook", "endpoint": f"{receiver.base}/hook", "payload": "application/fhir+json"}})
    assert response.status_code == 201, response.get_json()
    yield app, ctx, receiver, notifier, client
    receiver.stop()
    close_app(app)


def test_several_notifiers_send_each_notification_once(setup):
    app, ctx, receiver, notifier, _ = setup
    workers = [notifier() for _ in range(3)]
    for n in range(5):
        ctx.repo.put("Task", f"T-{n}", task(f"T-{n}"))

    def work(n: Notifier):
        for _ in range(3):
            n.run_once()

    threads = [threading.Thread(target=work, args=(n,)) for n in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for n in workers:  # whatever one left claimed or queued, a last pass sends
        n.run_once()
    paths = sorted(r["path"] for r in receiver.at("/hook"))
    assert paths == [f"/hook/Task/T-{n}" for n in range(5)]
    assert workers[0].outbox.pending() == 0


def test_queued_notifications_survive_a_restart(setup):
    app, ctx, receiver, notifier, _ = setup
    first = notifier()
    ctx.repo.put("Task", "T-1", task("T-1"))
    assert first.match() is True  # queued, not yet sent: the process "dies" here
    assert first.outbox.pending() == 1
    notifier().run_once()  # a new process picks the queue up
    assert [r["path"] for r in receiver.at("/hook")] == ["/hook/Task/T-1"]


# PostgreSQL only: SQLite commits writers one at a time, in seq order, so it has no such gap.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_version_committed_after_a_later_one_is_not_skipped(setup, database_url):
    app, ctx, receiver, notifier, _ = setup
    n = notifier()
    held = ctx.repo.engine.connect()
    transaction = held.begin()
    WriteUnit(held, access_columns, SearchIndexer(ctx.fhir_base)).put("Task", "T-held", task("T-held"))
    ctx.repo.put("Task", "T-later", task("T-later"))  # a higher seq, committed first
    n.run_once()
    assert receiver.at("/hook") == []  # the cursor waits at the gap
    transaction.commit()
    held.close()
    n.run_once()
    n.run_once()
    assert sorted(r["path"] for r in receiver.at("/hook")) == ["/hook/Task/T-held", "/hook/Task/T-later"]


def _hook(client, receiver, path: str) -> None:
    response = post_json(client, "/fhir/Subscription", {
        "resourceType": "Subscription", "status": "requested", "reason": "test", "criteria": "Task",
        "channel": {"type": "rest-hook", "endpoint": f"{receiver.base}{path}", "payload": "application/fhir+json"}})
    assert response.status_code == 201, response.get_json()


def _attempts(ctx) -> list[int]:
    with ctx.repo.engine.connect() as conn:
        return [row.attempts for row in conn.execute(select(subscription_delivery).order_by(subscription_delivery.c.id))]


def test_a_delivery_waiting_behind_a_slow_send_is_sent_once(setup, monkeypatch):
    """While one notifier sends, the leases of what is still queued run out and another notifier
    sends that: the first must not have claimed it ahead, or it would send it again."""
    app, ctx, receiver, notifier, client = setup
    _hook(client, receiver, "/second")
    first, second = notifier(), notifier()
    ctx.repo.put("Task", "T-1", task("T-1"))  # one notification for each Subscription
    real_send, meanwhile = notifier_module.send, []

    def slow_send(target, method, body, headers, timeout):
        if not meanwhile:  # the first send "outlasts the lease" of everything else claimed
            meanwhile.append(True)
            with ctx.repo.engine.begin() as conn:
                conn.execute(update(subscription_delivery)
                             .where(subscription_delivery.c.subscription_id != _sent_to(ctx, target.path))
                             .values(claimed_until=1))
            second.run_once()
        return real_send(target, method, body, headers, timeout)

    monkeypatch.setattr(notifier_module, "send", slow_send)
    first.run_once()
    first.run_once()
    paths = sorted(r["path"] for r in receiver.requests)
    assert paths == ["/hook/Task/T-1", "/second/Task/T-1"]
    assert first.outbox.pending() == 0


def _sent_to(ctx, path: str) -> str:
    """The Subscription whose endpoint a notification to `path` goes to."""
    for stored in ctx.repo.iter_current("Subscription"):
        if path.startswith(urlsplit(stored.resource()["channel"]["endpoint"]).path + "/"):
            return stored.id
    raise AssertionError(path)


def test_a_notifier_whose_lease_ran_out_settles_nothing(setup):
    app, ctx, receiver, notifier, _ = setup
    stale, live = notifier(), notifier()
    ctx.repo.put("Task", "T-1", task("T-1"))
    stale.match()
    lease = 60_000
    taken = stale.outbox.claim_next("stale", lease)
    with ctx.repo.engine.begin() as conn:  # the lease runs out; another notifier claims it
        conn.execute(update(subscription_delivery).values(claimed_until=1))
    again = live.outbox.claim_next("live", lease)
    assert again is not None and again.id == taken.id
    assert stale.outbox.retry_later(taken, "stale", 60_000, "timed out") is False
    assert stale.outbox.done(taken.id, "stale") is False
    assert _attempts(ctx) == [0] and stale.outbox.pending() == 1  # untouched: "live" holds it
    assert live.outbox.retry_later(again, "live", 0, "refused") is True
    assert _attempts(ctx) == [1]
    again = live.outbox.claim_next("live", lease)
    assert live.outbox.done(again.id, "live") is True
    assert live.outbox.pending() == 0


def test_one_pass_sends_a_subscriptions_whole_queue_in_order(setup, monkeypatch):
    app, ctx, receiver, notifier, _ = setup
    n = notifier()
    for i in range(6):
        ctx.repo.put("Task", f"T-{i}", task(f"T-{i}"))
    passes = []
    real_match = n.match
    monkeypatch.setattr(n, "match", lambda: passes.append(1) or real_match())
    n.run_once()
    assert [r["path"] for r in receiver.requests] == [f"/hook/Task/T-{i}" for i in range(6)]
    assert n.outbox.pending() == 0
    assert len(passes) == 2  # one batch matched, then nothing new: no pass per notification


def test_a_delivery_that_cannot_be_prepared_counts_as_a_failed_attempt(setup, monkeypatch):
    app, ctx, receiver, notifier, _ = setup
    n = notifier()
    ctx.repo.put("Task", "T-1", task("T-1"))

    def broken(_view):
        raise ValueError("cannot serialise")

    monkeypatch.setattr(notifier_module, "to_json", broken)
    n.run_once()  # the pass ends normally
    assert receiver.requests == []
    assert _attempts(ctx) == [1]  # backed off, not re-claimed forever
    with ctx.repo.engine.connect() as conn:
        row = conn.execute(select(subscription_delivery)).one()
    assert row.claimed_by is None and "cannot serialise" in row.last_error


def test_only_one_notifier_matches_a_batch(setup, monkeypatch):
    app, ctx, receiver, notifier, _ = setup
    workers = [notifier() for _ in range(3)]
    for i in range(4):
        ctx.repo.put("Task", f"T-{i}", task(f"T-{i}"))
    matched = []
    for worker in workers:
        real = worker._queued
        monkeypatch.setattr(worker, "_queued", lambda versions, real=real: matched.append(len(versions)) or real(versions))
    threads = [threading.Thread(target=w.match) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert matched == [4]  # the others found the cursor already past the batch
    assert workers[0].outbox.pending() == 4
