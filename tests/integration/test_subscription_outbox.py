"""The notifier's outbox on a real store: several notifiers (gunicorn workers) queue and send each
notification once; on PostgreSQL, a version whose transaction commits after a later one is not
skipped; the queue survives a restart."""
from __future__ import annotations

import threading

import pytest

from adapter.enforcement.columns import access_columns
from adapter.search.index_store import SearchIndexer
from adapter.storage.repository import WriteUnit
from adapter.subscriptions import Notifier
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
    yield app, ctx, receiver, notifier
    receiver.stop()
    close_app(app)


def test_several_notifiers_send_each_notification_once(setup):
    app, ctx, receiver, notifier = setup
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
    app, ctx, receiver, notifier = setup
    first = notifier()
    ctx.repo.put("Task", "T-1", task("T-1"))
    assert first.match() is True  # queued, not yet sent: the process "dies" here
    assert first.outbox.pending() == 1
    notifier().run_once()  # a new process picks the queue up
    assert [r["path"] for r in receiver.at("/hook")] == ["/hook/Task/T-1"]


# PostgreSQL only: SQLite commits writers one at a time, in seq order, so it has no such gap.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_version_committed_after_a_later_one_is_not_skipped(setup, database_url):
    app, ctx, receiver, notifier = setup
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
