"""Writing a resource's index rows, inside the write transaction of its version."""
from __future__ import annotations

from sqlalchemy import Connection, and_, delete, insert

from ..storage.schema import INDEX_TABLES
from .indexer import index_rows


class SearchIndexer:
    def __init__(self, fhir_base: str):
        self._base = fhir_base

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
                conn.execute(insert(table), [dict(row, res_type=resource_type, res_id=id_) for row in batch])
