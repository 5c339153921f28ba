"""Opening the store the one way both the server and the CLI use: engine, migration, search indexer."""
from __future__ import annotations

from .config import Config
from .enforcement.columns import access_columns
from .search.index_store import SearchIndexer
from .storage import Repository, make_engine, migrate
from .storage.engine import schema_version

SEARCH_INDEX_SINCE = 3  # the schema version that introduced the search index tables
ACCESS_COLUMNS_SINCE = 4  # the schema version from which access columns are filled
MEASURE_REPORT_IDENTIFIER_SINCE = 6  # the schema version whose index has MeasureReport `identifier` (push)


def open_repository(config: Config) -> Repository:
    engine = make_engine(config.database_url, busy_timeout_ms=config.sqlite_busy_timeout_ms)
    before = schema_version(engine)
    migrate(engine)
    repo = Repository(engine, access=access_columns, indexer=SearchIndexer(config.fhir_base))
    if 0 < before < SEARCH_INDEX_SINCE:
        repo.reindex()  # resources stored before the index existed become searchable
    if 0 < before < ACCESS_COLUMNS_SINCE:
        repo.refresh_access()  # resources stored before enforcement get the columns its filters read
    if SEARCH_INDEX_SINCE <= before < MEASURE_REPORT_IDENTIFIER_SINCE:
        repo.reindex(["MeasureReport"])  # stored before `MeasureReport?identifier` was a parameter
    return repo
