"""Who is calling: built only from a verified token and the client registry, never from the request."""
from __future__ import annotations

from dataclasses import dataclass

from .scopes import ScopeSet

ROLES = ("practice", "pcn", "federation", "icb", "external", "service")
PURPOSES = ("HMARKT", "HOPERAT", "HQUALIMP")


@dataclass(frozen=True)
class Principal:
    client_id: str
    org: str | None
    role: str
    scopes: ScopeSet
    purpose: str
