"""Settings from the environment (DTHUB_*), read only when the app factory asks for them."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping


def _default_database_url() -> str:
    return f"sqlite:///{Path('var') / 'dthub.sqlite3'}"


@dataclass(frozen=True)
class Config:
    database_url: str = field(default_factory=_default_database_url)
    # Public base URL for links and token audiences; None = the server's own host and port.
    base_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 10 * 1024 * 1024
    max_json_depth: int = 64
    default_page_size: int = 50
    max_page_size: int = 1000
    log_level: str = "INFO"
    sqlite_busy_timeout_ms: int = 30000
    testing: bool = False
    assertion_algs: tuple[str, ...] = ("RS384", "ES384", "RS512")
    token_lifetime: int = 300
    rate_limit_per_minute: int = 6000
    key_grace_seconds: int = 600
    jwks_timeout: float = 3.0
    client_cache_seconds: float = 1.0
    # The London date contracts are judged on; None = today. Fixed only for tests and demos.
    policy_today: str | None = None
    # Where each worker spools audit records before they reach the store (crash safety).
    audit_spool_dir: str | None = None
    audit_flush_seconds: float = 0.5
    # Small-number suppression threshold k (data-use-policy.md "Small numbers"): never below 2.
    suppression_k: int = 3
    # R4 Subscriptions (adapter.subscriptions): rest-hook endpoints may only be on these hosts
    # (exact host, `*.domain`, or `*`); empty = subscriptions refused and no notifier runs.
    subscription_allowed_hosts: tuple[str, ...] = ()
    subscription_max_failures: int = 5
    subscription_retry_seconds: float = 2.0       # first retry delay, doubled per failure
    subscription_retry_max_seconds: float = 300.0
    subscription_timeout_seconds: float = 5.0     # connect and read timeout of one notification
    subscription_poll_seconds: float = 1.0        # how often the notifier looks for new versions
    # Bulk Data $export (adapter.bulk): files on disk (None = beside the store), kept this long.
    export_dir: str | None = None
    export_ttl_seconds: int = 24 * 3600
    export_workers: int = 1                 # runner threads per process (0: this process runs none)
    export_max_jobs_per_client: int = 2     # unfinished jobs per client; more -> 429
    export_file_resources: int = 10000      # resources per NDJSON file before it rotates
    export_lease_seconds: int = 60          # a job whose worker is silent this long is taken over

    def __post_init__(self) -> None:
        if not isinstance(self.suppression_k, int) or self.suppression_k < 2:
            raise ValueError(f"DTHUB_SUPPRESSION_K must be an integer of at least 2, not {self.suppression_k!r}")
        if self.subscription_max_failures < 1:
            raise ValueError("DTHUB_SUBSCRIPTION_MAX_FAILURES must be at least 1")

    @property
    def fhir_base(self) -> str:
        return self.public_base + "/fhir"

    @property
    def public_base(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def token_url(self) -> str:
        return f"{self.public_base}/auth/token"

    def with_(self, **changes) -> "Config":
        return replace(self, **changes)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def config_from_env(env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    defaults = Config()
    return Config(
        database_url=env.get("DTHUB_DATABASE_URL") or defaults.database_url,
        base_url=(env.get("DTHUB_BASE_URL") or None),
        host=env.get("DTHUB_HOST") or defaults.host,
        port=_int(env, "DTHUB_PORT", defaults.port),
        max_body_bytes=_int(env, "DTHUB_MAX_BODY_BYTES", defaults.max_body_bytes),
        max_json_depth=_int(env, "DTHUB_MAX_JSON_DEPTH", defaults.max_json_depth),
        default_page_size=_int(env, "DTHUB_DEFAULT_PAGE_SIZE", defaults.default_page_size),
        max_page_size=_int(env, "DTHUB_MAX_PAGE_SIZE", defaults.max_page_size),
        log_level=env.get("DTHUB_LOG_LEVEL") or defaults.log_level,
        sqlite_busy_timeout_ms=_int(env, "DTHUB_SQLITE_BUSY_TIMEOUT_MS", defaults.sqlite_busy_timeout_ms),
        assertion_algs=_algs(env.get("DTHUB_ASSERTION_ALGS")) or defaults.assertion_algs,
        token_lifetime=min(_int(env, "DTHUB_TOKEN_LIFETIME", defaults.token_lifetime), 300),
        rate_limit_per_minute=_int(env, "DTHUB_RATE_LIMIT_PER_MINUTE", defaults.rate_limit_per_minute),
        key_grace_seconds=_int(env, "DTHUB_KEY_GRACE_SECONDS", defaults.key_grace_seconds),
        client_cache_seconds=float(env.get("DTHUB_CLIENT_CACHE_SECONDS") or defaults.client_cache_seconds),
        policy_today=env.get("DTHUB_POLICY_TODAY") or None,
        audit_spool_dir=env.get("DTHUB_AUDIT_SPOOL_DIR") or None,
        audit_flush_seconds=float(env.get("DTHUB_AUDIT_FLUSH_SECONDS") or defaults.audit_flush_seconds),
        suppression_k=_int(env, "DTHUB_SUPPRESSION_K", defaults.suppression_k),
        subscription_allowed_hosts=tuple(h.strip().lower() for h in (env.get("DTHUB_SUBSCRIPTION_ALLOWED_HOSTS") or "")
                                         .split(",") if h.strip()),
        subscription_max_failures=_int(env, "DTHUB_SUBSCRIPTION_MAX_FAILURES", defaults.subscription_max_failures),
        subscription_retry_seconds=_float(env, "DTHUB_SUBSCRIPTION_RETRY_SECONDS", defaults.subscription_retry_seconds),
        subscription_retry_max_seconds=_float(env, "DTHUB_SUBSCRIPTION_RETRY_MAX_SECONDS",
                                              defaults.subscription_retry_max_seconds),
        subscription_timeout_seconds=_float(env, "DTHUB_SUBSCRIPTION_TIMEOUT_SECONDS",
                                            defaults.subscription_timeout_seconds),
        subscription_poll_seconds=_float(env, "DTHUB_SUBSCRIPTION_POLL_SECONDS", defaults.subscription_poll_seconds),
        export_dir=env.get("DTHUB_EXPORT_DIR") or None,
        export_ttl_seconds=_int(env, "DTHUB_EXPORT_TTL_SECONDS", defaults.export_ttl_seconds),
        export_workers=_int(env, "DTHUB_EXPORT_WORKERS", defaults.export_workers),
        export_max_jobs_per_client=_int(env, "DTHUB_EXPORT_MAX_JOBS_PER_CLIENT", defaults.export_max_jobs_per_client),
        export_file_resources=_int(env, "DTHUB_EXPORT_FILE_RESOURCES", defaults.export_file_resources),
        export_lease_seconds=_int(env, "DTHUB_EXPORT_LEASE_SECONDS", defaults.export_lease_seconds),
    )


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


_SAFE_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


def _algs(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    algs = tuple(a.strip() for a in raw.split(",") if a.strip())
    bad = [a for a in algs if a not in _SAFE_ALGS]
    if bad:  # none and HMAC can never be configured for client assertions
        raise ValueError(f"DTHUB_ASSERTION_ALGS may only name asymmetric algorithms, not {bad}")
    return algs
