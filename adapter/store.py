"""Opening the store the one way both the server and the CLI use: engine, migration, search indexer."""
from __future__ import annotations

from .config import Config
from .search.index_store import SearchIndexer
from .storage import Repository, make_engine, migrate


def open_repository(config: Config) -> Repository:
    engine = make_engine(config.database_url, busy_timeout_ms=config.sqlite_busy_timeout_ms)
    migrate(engine)
    return Repository(engine, indexer=SearchIndexer(config.fhir_base))
