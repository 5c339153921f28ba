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


def _migration_1(conn) -> None:
    metadata.create_all(conn, tables=[resource, resource_version])


# Append-only: each entry brings a store from version i to i+1.
MIGRATIONS = [_migration_1]
SCHEMA_VERSION = len(MIGRATIONS)
