"""The Flask application: wiring only."""
from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, g, request

from ..audit import AuditTrail
from ..enforcement.columns import access_columns
from ..search.index_store import SearchIndexer
from ..storage import Repository, make_engine
from ..auth.clients import ClientRegistry
from ..auth.jwks import JwksFetcher
from ..auth.rate_limit import RateLimiter
from ..auth.replay import JtiStore
from ..auth.server_keys import ServerKeys
from ..auth.token_endpoint import AuthService
from ..config import Config, config_from_env
from ..context_factory import build_context  # plain Python: the CLI builds one too
from ..audit.trail import default_spool_dir
from .audit_hook import install_audit
from .errors import register_error_handlers
from .auth_routes import auth_blueprint
from .routes import fhir_blueprint, health_blueprint

_REQUEST_ID = re.compile(r"^[A-Za-z0-9\-._]{1,64}$")


def build_auth(config: Config, engine) -> AuthService:
    keys = ServerKeys(engine, grace_seconds=config.key_grace_seconds)
    keys.ensure()
    return AuthService(registry=ClientRegistry(engine, cache_seconds=config.client_cache_seconds), server_keys=keys, jti_store=JtiStore(engine),
                       fetcher=JwksFetcher(timeout=config.jwks_timeout), token_url=config.token_url,
                       issuer=config.public_base, audience=config.fhir_base,
                       assertion_algs=config.assertion_algs, token_lifetime=config.token_lifetime)


def build_app(config: Config | None = None) -> Flask:
    config = config or config_from_env()
    logging.basicConfig(level=config.log_level,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = Flask("dthub")
    app.config.update(MAX_CONTENT_LENGTH=config.max_body_bytes, TESTING=config.testing)
    context = build_context(config)
    app.extensions["dthub"] = context
    app.extensions["dthub.auth"] = build_auth(config, context.repo.engine)
    app.extensions["dthub.rate_limit"] = RateLimiter(config.rate_limit_per_minute)

    @app.before_request
    def _request_id():
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex

    # The trail writes from a background thread through its own unpooled engine: between batches it
    # holds no database connection (an app's pool is its requests').
    audit_repo = Repository(make_engine(config.database_url, busy_timeout_ms=config.sqlite_busy_timeout_ms,
                                        pooled=False), access=access_columns, indexer=SearchIndexer(config.fhir_base))
    install_audit(app, AuditTrail(audit_repo, config.fhir_base, config.audit_spool_dir or default_spool_dir(config),
                                  config.audit_flush_seconds))
    if config.subscription_allowed_hosts and config.subscription_poll_seconds > 0:
        from ..subscriptions import Notifier

        notifier = Notifier(context, app.extensions["dthub.auth"].registry, app.extensions["dthub.audit"].record)
        app.extensions["dthub.subscriptions"] = notifier
        notifier.start()
    # Bulk $export: its jobs run in background threads as their callers, audited on the same trail.
    from ..bulk import build_bulk_export

    app.extensions["dthub.export"] = build_bulk_export(
        context, app.extensions["dthub.audit"], app.extensions["dthub.auth"].registry.get)
    app.register_blueprint(fhir_blueprint())
    app.register_blueprint(health_blueprint())
    app.register_blueprint(auth_blueprint())
    register_error_handlers(app)
    return app
