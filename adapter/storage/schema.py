"""Tables of the store and the migrations that create them.

`resource` holds the current version of each resource (fast reads, and the row that serialises
writers); `resource_version` holds every version, with a global `seq` that orders system history
and makes history paging stable under concurrent writes.
"""
from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Text,
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
    Column("owner_org", String(16), nullable=True),
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
    Column("owner_org", String(16), nullable=True),
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


def _migration_1(conn) -> None:
    metadata.create_all(conn, tables=[resource, resource_version])


def _migration_2(conn) -> None:
    metadata.create_all(conn, tables=[client, assertion_jti, server_key])


# Append-only: each entry brings a store from version i to i+1.
MIGRATIONS = [_migration_1, _migration_2]
SCHEMA_VERSION = len(MIGRATIONS)
