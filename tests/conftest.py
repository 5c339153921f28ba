"""Fixtures shared by every test tier: the two stores, the app, a test client and a live server.

Every store-backed test runs on SQLite and on PostgreSQL. PostgreSQL is at 127.0.0.1:5432 (user
postgres, trust auth); where it is not reachable the PostgreSQL runs skip, except under CI=true,
where they fail instead.
"""
from __future__ import annotations

import os
import sys
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adapter import create_app  # noqa: E402
from adapter.config import Config  # noqa: E402

PG_ADMIN_URL = os.environ.get("DTHUB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_unavailable_reason() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means "no PostgreSQL here"
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"


def new_pg_database(prefix: str = "dthub_test"):
    """A fresh PostgreSQL database: (url, drop). Skips where PostgreSQL is absent, fails under CI=true."""
    reason = _pg_unavailable_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true requires the PostgreSQL tests to run: {reason}")
        pytest.skip(reason)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", drop


@pytest.fixture(scope="session")
def pg_database_url():
    url, drop = new_pg_database()
    yield url
    drop()


def _clean_pg(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'dthub_schema'"))]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    url = request.getfixturevalue("pg_database_url")
    _clean_pg(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'store.sqlite3'}"


def make_config(database_url: str, **overrides) -> Config:
    # The audit trail stores its events when a test flushes it, not on its own mid-test: tests
    # of other features count history and revincludes exactly.
    values = dict(database_url=database_url, testing=True, base_url="http://fhir.test", audit_flush_seconds=3600)
    values.update(overrides)
    return Config(**values)


@pytest.fixture
def repo(database_url):
    """The store as the server and the CLI open it (migrations, search indexer)."""
    from adapter.store import open_repository

    repository = open_repository(make_config(database_url))
    yield repository
    repository.engine.dispose()


@pytest.fixture
def config(database_url):
    return make_config(database_url)


@pytest.fixture
def app(config):
    app = create_app(config)
    yield app
    close_app(app)


def close_app(app) -> None:
    """Store the app's pending audit events and release its connections while its database still
    exists (else its trail's flush at exit fails against a dropped test database)."""
    notifier = app.extensions.get("dthub.subscriptions")
    if notifier is not None:
        notifier.stop()
    bulk = app.extensions.get("dthub.export")
    if bulk is not None:
        bulk.close()
    trail = app.extensions.get("dthub.audit")
    if trail is not None:
        trail.close()
    app.extensions["dthub"].repo.engine.dispose()


@pytest.fixture(scope="session")
def client_key():
    """One EC P-384 key pair for the test clients (key generation is the slow part)."""
    from adapter.auth.assertion import generate_key

    return generate_key("test-key-1", "EC")


def register_client(app, client_id: str, jwks: dict, *, role: str = "service", org: str | None = None,
                    scopes: str = "system/*.cruds", purposes: tuple[str, ...] = ("HOPERAT",)):
    return app.extensions["dthub.auth"].registry.add(client_id, org=org, role=role, scopes=scopes,
                                                     purposes=list(purposes), jwks=jwks)


def fetch_token(http, token_url: str, client_id: str, private_jwk: dict, scope: str = "system/*.cruds",
                purpose: str | None = None) -> str:
    """A real token from the real endpoint; `http` is a Flask test client or `requests`."""
    from adapter.auth.assertion import sign_assertion
    from adapter.auth.token_endpoint import ASSERTION_TYPE

    form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": sign_assertion(private_jwk, client_id, token_url, purpose=purpose),
            "scope": scope}
    if hasattr(http, "application"):  # Flask test client
        response = http.post("/auth/token", data=form)
        body = response.get_json()
    else:
        response = http.post(token_url, data=form, timeout=10)
        body = response.json()
    assert response.status_code == 200, body
    return body["access_token"]


def authorised_client(app, client_key, client_id: str = "test-service", **registration):
    private, jwks = client_key
    register_client(app, client_id, jwks, **registration)
    client = app.test_client()
    token = fetch_token(client, app.extensions["dthub"].config.token_url, client_id, private,
                        scope=registration.get("scopes", "system/*.cruds"))
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.fixture
def client(app, client_key):
    """A test client acting as a `service` client with every SMART permission."""
    return authorised_client(app, client_key)


@pytest.fixture
def anonymous(app):
    return app.test_client()


class LiveServer:
    def __init__(self, app, server, thread):
        self.app = app
        self._server = server
        self._thread = thread
        self.url = f"http://127.0.0.1:{server.server_port}"
        self.fhir = f"{self.url}/fhir"
        self.token_url = f"{self.url}/auth/token"
        self.headers: dict[str, str] = {}

    def authorise(self, client_key, client_id: str = "live-service", **registration) -> str:
        import requests

        private, jwks = client_key
        register_client(self.app, client_id, jwks, **registration)
        token = fetch_token(requests, self.token_url, client_id, private,
                            scope=registration.get("scopes", "system/*.cruds"))
        self.headers = {"Authorization": f"Bearer {token}"}
        return token

    def stop(self):
        self._server.shutdown()
        self._thread.join(5)


def start_live_server(database_url: str, **overrides) -> LiveServer:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, lambda env, start: [], threaded=True)
    port = server.server_port
    app = create_app(make_config(database_url, base_url=f"http://127.0.0.1:{port}", port=port, **overrides))
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return LiveServer(app, server, thread)


@pytest.fixture
def live_server(database_url, client_key):
    server = start_live_server(database_url)
    server.authorise(client_key)
    yield server
    server.stop()
    close_app(server.app)
