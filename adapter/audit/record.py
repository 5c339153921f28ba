"""One access as the HTTP layer saw it: the plain value the audit trail spools and stores.

Built by the caller after the response is decided (allowed or refused); `event.py` turns it into
an R4 AuditEvent. It never holds a token: the query is scrubbed again here, whatever the caller did.
"""
from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, replace
from urllib.parse import unquote_plus

import orjson

from adapter.storage.repository import now_instant

# Parameters that can carry a credential (OAuth form posts, `?access_token=` from careless clients).
# Not `code`: that is also a FHIR search parameter.
SECRET_PARAMETERS = frozenset({"access_token", "client_assertion", "refresh_token", "id_token", "client_secret"})

INTERACTIONS = frozenset({"read", "vread", "update", "patch", "delete", "history-instance", "history-type",
                          "history-system", "create", "search-type", "search-system", "batch", "transaction",
                          "operation", "capabilities", "login"})


def scrub_query(query: str) -> str:
    """The query string without credential parameters; everything else kept byte for byte."""
    if not query:
        return ""
    kept = [part for part in query.split("&")
            if unquote_plus(part.split("=", 1)[0]).strip().lower() not in SECRET_PARAMETERS]
    return "&".join(kept)


@dataclass(frozen=True, kw_only=True)
class AccessRecord:
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    recorded: str = field(default_factory=now_instant)  # FHIR instant, UTC, milliseconds
    request_id: str | None = None
    client_id: str | None = None
    org: str | None = None          # ODS code of the caller's organisation
    role: str | None = None         # practice | pcn | federation | icb | external | service
    purpose: str | None = None      # HMARKT | HOPERAT | HQUALIMP
    source: str | None = None       # client IP address
    interaction: str                # R4 restful-interaction code, or "login" for token requests
    method: str
    path: str
    query: str = ""
    status: int
    outcome_desc: str = ""
    resources: tuple[tuple[str, str | None], ...] = ()  # ("Task/123", owner ODS or None), returned or refused
    organisations: tuple[str, ...] = ()                 # ODS codes the access is about (owners and their groups)
    deciding: tuple[str, ...] = ()                      # "Consent/<id>" or "rule:<name>"
    count: int = 1                                      # > 1 for summarised unauthenticated 401s

    def __post_init__(self) -> None:
        # Frozen, so normalise through object.__setattr__: lists from JSON become tuples, and
        # a token in the query never reaches the spool.
        object.__setattr__(self, "query", scrub_query(self.query or ""))
        object.__setattr__(self, "resources", tuple((str(r), o) for r, o in self.resources))
        object.__setattr__(self, "organisations", tuple(self.organisations))
        object.__setattr__(self, "deciding", tuple(self.deciding))

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes | str) -> "AccessRecord":
        return cls(**orjson.loads(data))

    def summarised(self, count: int) -> "AccessRecord":
        return replace(self, count=count)


def new_record(interaction: str, method: str, path: str, status: int, **fields) -> AccessRecord:
    """A record with a fresh id and the current instant; unknown interactions are refused early."""
    if interaction not in INTERACTIONS:
        raise ValueError(f"unknown interaction {interaction!r}")
    return AccessRecord(interaction=interaction, method=method, path=path, status=status, **fields)
