"""Tables of the store and the migrations that create them.

`resource` holds the current version of each resource (fast reads, and the row that serialises
writers); `resource_version` holds every version, with a global `seq` that orders system history
and makes history paging stable under concurrent writes.
"""
from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Text, text,
                        UniqueConstraint)

metadata = MetaData()

# BigInteger autoincrement is INTEGER PRIMARY KEY (rowid) on SQLite only with this variant.
SeqType = BigInteger().with_variant(Integer, "sqlite")

resource = Table(
    "resource", metadata,
    Column("res_type", String(64), primary_key=True),
    Column("res_id", String(64), primary_key=True),
    Column("version_id", Integer, nullable=False),
    Column("seq", SeqType, nullable=False),
    Column("last_updated", String(24), nullable=False),  # fixed-width UTC instant: sorts as text
    Column("deleted", Boolean, nullable=False),
    Column("content", Text, nullable=True),  # FHIR JSON of the current version; NULL when deleted
    # Access-control columns the policy narrows on in SQL.
    Column("owner_org", String(64), nullable=True),
    Column("security", Text, nullable=True),
    Index("ix_resource_type_updated", "res_type", "last_updated"),
    Index("ix_resource_owner", "owner_org"),
)

resource_version = Table(
    "resource_version", metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("res_type", String(64), nullable=False),
    Column("res_id", String(64), nullable=False),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", String(24), nullable=False),
    Column("method", String(8), nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("content", Text, nullable=True),
    Column("owner_org", String(64), nullable=True),
    Column("security", Text, nullable=True),
    UniqueConstraint("res_type", "res_id", "version_id", name="uq_resource_version"),
    Index("ix_version_type_seq", "res_type", "seq"),
    Index("ix_version_updated", "last_updated"),
)

schema_state = Table(
    "dthub_schema", metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
)


# Registered clients live in the store, not in a config file (issue: authentication).
client = Table(
    "auth_client", metadata,
    Column("client_id", String(128), primary_key=True),
    Column("org", String(16), nullable=True),
    Column("role", String(16), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("purposes", Text, nullable=False),  # space-separated ActReason codes, first = default
    Column("jwks", Text, nullable=True),
    Column("jwks_url", Text, nullable=True),
    Column("enabled", Boolean, nullable=False),
    Column("created", String(24), nullable=False),
)

# Seen assertion `jti`s, kept until the assertion expires: replay is refused across workers and restarts.
assertion_jti = Table(
    "auth_assertion_jti", metadata,
    Column("client_id", String(128), primary_key=True),
    Column("jti", String(255), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_jti_expiry", "expires_at"),
)

# The server's own signing keys, shared by every worker; retired keys stay published a while.
server_key = Table(
    "auth_server_key", metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_pem", Text, nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("retired_at", BigInteger, nullable=True),
)


# Search indexes of current versions, written in the same transaction as the version itself.
def _index_table(name: str, *columns, indexes=()) -> Table:
    return Table(
        name, metadata,
        Column("res_type", String(64), nullable=False),
        Column("res_id", String(64), nullable=False),
        Column("param", String(64), nullable=False),
        *columns,
        Index(f"ix_{name}_resource", "res_id", "res_type", "param"),
        *indexes,
    )


idx_token = _index_table(
    "idx_token",
    Column("system", String(255), nullable=False),
    Column("code", String(512), nullable=False),
    Column("text_norm", String(512), nullable=True),
    indexes=(Index("ix_idx_token_value", "res_type", "param", "code", "system"),),
)
idx_string = _index_table(
    "idx_string",
    Column("norm", String(512), nullable=False),
    Column("exact", Text, nullable=False),
    indexes=(Index("ix_idx_string_value", "res_type", "param", "norm"),),
)
idx_date = _index_table(
    "idx_date",
    Column("low", String(24), nullable=False),
    Column("high", String(24), nullable=False),
    indexes=(Index("ix_idx_date_low", "res_type", "param", "low"),
             Index("ix_idx_date_high", "res_type", "param", "high")),
)
idx_reference = _index_table(
    "idx_reference",
    Column("target_type", String(64), nullable=False),
    Column("target_id", String(64), nullable=False),
    Column("target_url", String(512), nullable=False),
    Column("ident_system", String(255), nullable=False),
    Column("ident_value", String(255), nullable=False),
    indexes=(Index("ix_idx_reference_target", "res_type", "param", "target_id", "target_type"),
             Index("ix_idx_reference_reverse", "target_type", "target_id"),
             Index("ix_idx_reference_url", "res_type", "param", "target_url"),
             Index("ix_idx_reference_ident", "res_type", "param", "ident_value")),
)
INDEX_TABLES = {"token": idx_token, "string": idx_string, "date": idx_date, "reference": idx_reference}

# Materialised result lists of searches that span several pages (so pages never shift).
search_run = Table(
    "search_run", metadata,
    Column("search_id", String(64), primary_key=True),
    Column("client_id", String(128), nullable=True),
    Column("query", Text, nullable=False),
    Column("total", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # Same principal, date, parameters and store generation (engine.first_page): a repeat reuses the list.
    Column("reuse_key", String(64), nullable=True),
    Index("ix_search_run_created", "created_at"),
    Index("ix_search_run_reuse", "reuse_key"),
)
search_result = Table(
    "search_result", metadata,
    Column("search_id", String(64), primary_key=True),
    Column("pos", Integer, primary_key=True),
    Column("res_id", String(64), nullable=False),
)

# `dthub push` (adapter/push): per (source client, target) stream, the last successful push's
# high-water mark and the fingerprint of the grants it was made under; and a ledger of what each
# stream last sent, by digest, so that nothing identical is sent twice (resumption, aggregates).
push_state = Table(
    "push_state", metadata,
    Column("stream", String(32), primary_key=True),
    Column("client_id", String(128), nullable=False),
    Column("target", Text, nullable=False),
    Column("mark", String(24), nullable=True),           # `until` of the last successful run
    Column("grants", String(64), nullable=True),         # fingerprint of the grants at that run
    Column("running_since", String(24), nullable=True),  # a run started and not finished (interrupted)
    Column("updated", String(24), nullable=False),
)
push_sent = Table(
    "push_sent", metadata,
    Column("stream", String(32), primary_key=True),
    Column("res_type", String(64), primary_key=True),
    Column("res_id", String(64), primary_key=True),
    Column("digest", String(64), nullable=False),
)

# R4 Subscriptions (adapter.subscriptions): how far the notifier has matched `resource_version.seq`,
# and the notifications still to send (a row is deleted once its endpoint has answered 2xx).
subscription_cursor = Table(
    "subscription_cursor", metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
)
subscription_delivery = Table(
    "subscription_delivery", metadata,
    Column("id", SeqType, primary_key=True, autoincrement=True),
    Column("subscription_id", String(64), nullable=False),
    Column("res_type", String(64), nullable=False),
    Column("res_id", String(64), nullable=False),
    Column("version_id", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt", BigInteger, nullable=False),   # epoch milliseconds
    Column("claimed_until", BigInteger, nullable=True),   # a notifier's lease (epoch ms)
    Column("claimed_by", String(64), nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_subscription_delivery_due", "next_attempt"),
    Index("ix_subscription_delivery_subscription", "subscription_id", "id"),
)


# Bulk Data $export jobs (adapter.bulk): the job runs as its caller, survives restarts, and is
# claimed by one worker at a time (status + owner + lease, updated atomically).
export_job = Table(
    "export_job", metadata,
    Column("job_id", String(64), primary_key=True),   # unguessable: it is in the status URL
    Column("client_id", String(128), nullable=False),
    Column("org", String(64), nullable=True),
    Column("role", String(16), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("request_url", Text, nullable=False),
    Column("params", Text, nullable=False),            # JSON: types, since, filters, area, notes
    Column("status", String(16), nullable=False),      # accepted | in-progress | completed | failed | cancelled
    Column("progress", Text, nullable=True),
    Column("transaction_time", String(24), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("owner", String(64), nullable=True),        # the worker running it
    Column("lease_until", BigInteger, nullable=True),  # past this, another worker may take it over
    Column("done", Text, nullable=False),              # JSON: finished parts [{type, file, count}], errors
    Column("message", Text, nullable=True),
    Index("ix_export_job_status", "status", "lease_until"),
    Index("ix_export_job_client", "client_id", "status"),
)


def _migration_1(conn) -> None:
    metadata.create_all(conn, tables=[resource, resource_version])


def _migration_2(conn) -> None:
    metadata.create_all(conn, tables=[client, assertion_jti, server_key])


def _migration_3(conn) -> None:
    metadata.create_all(conn, tables=[*INDEX_TABLES.values(), search_run, search_result])


def _migration_4(conn) -> None:
    """Access columns are now computed (adapter.enforcement.columns): open_repository refreshes them.
    An owner is an Organization id (up to 64 characters, as any FHIR id), not only an ODS code."""
    if conn.dialect.name == "postgresql":  # SQLite does not enforce VARCHAR lengths
        for table in ("resource", "resource_version"):
            conn.execute(text(f"ALTER TABLE {table} ALTER COLUMN owner_org TYPE VARCHAR(64)"))


def _migration_5(conn) -> None:
    """Materialised searches can be reused by a repeat of the same search (engine.first_page)."""
    from sqlalchemy import inspect

    if "reuse_key" not in {c["name"] for c in inspect(conn).get_columns("search_run")}:
        conn.execute(text("ALTER TABLE search_run ADD COLUMN reuse_key VARCHAR(64)"))
    if "ix_search_run_reuse" not in {i["name"] for i in inspect(conn).get_indexes("search_run")}:
        conn.execute(text("CREATE INDEX ix_search_run_reuse ON search_run (reuse_key)"))


def _migration_6(conn) -> None:
    """Push state and ledger (`dthub push`)."""
    metadata.create_all(conn, tables=[push_state, push_sent])


def _migration_7(conn) -> None:
    """R4 Subscriptions: the notifier's cursor and delivery queue (adapter.subscriptions)."""
    metadata.create_all(conn, tables=[subscription_cursor, subscription_delivery])


def _migration_8(conn) -> None:
    """Bulk Data $export jobs (adapter.bulk)."""
    metadata.create_all(conn, tables=[export_job])


# Append-only: each entry brings a store from version i to i+1.
MIGRATIONS = [_migration_1, _migration_2, _migration_3, _migration_4, _migration_5, _migration_6, _migration_7,
              _migration_8]
SCHEMA_VERSION = len(MIGRATIONS)
