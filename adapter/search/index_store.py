"""Writing a resource's index rows, inside the write transaction of its version."""
from __future__ import annotations

from sqlalchemy import Connection

from ..storage.rows import delete_keys, insert_rows
from ..storage.schema import INDEX_TABLES
from .indexer import index_rows


class SearchIndexer:
    def __init__(self, fhir_base: str):
        self._base = fhir_base

    def add(self, conn: Connection, resource_type: str, bodies: list[dict]) -> None:
        """The index rows of resources never stored before: one insert per index table for all."""
        self.replace_many(conn, [(resource_type, body["id"], body, True) for body in bodies])

    def replace(self, conn: Connection, resource_type: str, id_: str, body: dict | None, *,
                fresh: bool = False) -> None:
        self.replace_many(conn, [(resource_type, id_, body, fresh)])

    def replace_many(self, conn: Connection, items: list[tuple[str, str, dict | None, bool]]) -> None:
        """`replace` for each (resource_type, id, body, fresh), each key at most once: one delete and
        one insert per index table for all of them (a resource never stored before has no rows to
        remove)."""
        stale = [(t, i) for t, i, _body, fresh in items if not fresh]
        if stale:
            for table in INDEX_TABLES.values():
                delete_keys(conn, table, stale)
        by_table: dict[str, list[dict]] = {kind: [] for kind in INDEX_TABLES}
        for resource_type, id_, body, _fresh in items:
            if body is None:
                continue
            rows = index_rows(body, self._base)
            for kind in INDEX_TABLES:
                by_table[kind] += [dict(row, res_type=resource_type, res_id=id_) for row in getattr(rows, kind)]
        for kind, table in INDEX_TABLES.items():
            if by_table[kind]:
                insert_rows(conn, table, by_table[kind])
