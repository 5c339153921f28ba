"""Fixtures shared by the storage-level integration tests."""
from __future__ import annotations

import pytest

from adapter.storage import make_engine, migrate


@pytest.fixture
def engine(database_url):
    """A migrated, empty store on each database (database_url: SQLite and PostgreSQL)."""
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()
