"""Storage: the repository over SQLite (embedded) and PostgreSQL (production)."""
from .engine import make_engine, migrate
from .repository import Repository, StoredVersion, WriteResult, WriteUnit, now_instant

__all__ = ["make_engine", "migrate", "Repository", "StoredVersion", "WriteResult", "WriteUnit", "now_instant"]
