"""Writing a resource's index rows, inside the write transaction of its version."""
from __future__ import annotations

from sqlalchemy import Connection, Table, and_, delete

from ..storage.rows import insert_rows
from ..storage.schema import INDEX_TABLES
from .indexer import index_rows


class SearchIndexer:
    def __init__(self, fhir_base: str):
        self._base = fhir_base

    def add(self, conn: Connection, resource_type: str, bodies: list[dict]) -> None:
        """The index rows of resources never stored before: one insert per index table for all."""
        by_table: dict[str, list[dict]] = {kind: [] for kind in INDEX_TABLES}
        for body in bodies:
            rows = index_rows(body, self._base)
            for kind in INDEX_TABLES:
                by_table[kind] += [dict(row, res_type=resource_type, res_id=body["id"]) for row in getattr(rows, kind)]
        for kind, table in INDEX_TABLES.items():
            if by_table[kind]:
                insert_rows(conn, table, by_table[kind])

    def replace_many(self, conn: Connection, items: list[tuple[str, str, dict | None, bool]]) -> None:
        """`replace` for each (resource_type, id, body, fresh), each key at most once: one delete and
        one insert per index table for all of them (the import's batches)."""
        stale = [(t, i) for t, i, _body, fresh in items if not fresh]
        if stale:
            mark = "%s" if conn.dialect.name == "postgresql" else "?"
            cursor = conn.connection.driver_connection.cursor()
            try:
                for table in INDEX_TABLES.values():
                    cursor.executemany(f"DELETE FROM {table.name} WHERE res_type = {mark} AND res_id = {mark}", stale)
            finally:
                cursor.close()
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

    def replace(self, conn: Connection, resource_type: str, id_: str, body: dict | None, *,
                fresh: bool = False) -> None:
        if not fresh:  # a resource never stored before has no rows to remove
            for table in INDEX_TABLES.values():
                conn.execute(delete(table).where(and_(table.c.res_type == resource_type, table.c.res_id == id_)))
        if body is None:
            return
        rows = index_rows(body, self._base)
        for kind, table in INDEX_TABLES.items():
            batch = getattr(rows, kind)
            if batch:
                insert_rows(conn, table, [dict(row, res_type=resource_type, res_id=id_) for row in batch])
