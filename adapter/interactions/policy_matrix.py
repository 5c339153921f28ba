"""`GET /fhir/$policy-matrix` (conventions: Operations): the caller's effective grants, or with
`client-id` (service callers only) those of another registered client acting for its default
purpose; plus the same grants as text rows for `dthub policy matrix`."""
from __future__ import annotations

from typing import Callable

from ..auth.principal import Principal
from ..auth.scopes import ScopeSet
from ..enforcement.state import PolicyState
from ..outcomes import error
from ..policy import DATA_TYPES, LEVELS, is_all, policy_matrix
from .context import Context
from .request import FhirRequest, FhirResponse

# client id -> its registry record (adapter.auth.clients.ClientRecord) or None.
ClientLookup = Callable[[str], object]


def principal_of(record) -> Principal:
    """A registered client as the caller it would be with a token for its default purpose."""
    return Principal(record.client_id, record.org, record.role, ScopeSet.parse(""), record.default_purpose)


def matrix(ctx: Context, req: FhirRequest, lookup: ClientLookup) -> FhirResponse:
    principal = req.principal
    other = req.param("client-id")
    if other and other != principal.client_id:
        if principal.role != "service":
            raise error(403, "forbidden", "Only service clients may ask for another client's grants")
        record = lookup(other)
        if record is None:
            raise error(404, "not-found", f"No client {other!r} is registered")
        principal = principal_of(record)
    grants = ctx.policy.for_caller(principal).grants
    return FhirResponse(200, policy_matrix(principal, grants))


def matrix_rows(state: PolicyState, principal) -> list[tuple[str, str, str, str]]:
    """(data type, level, practices reached, deciding Consents) for each of the 18 cells."""
    grants = state.for_caller(principal).grants
    rows = []
    for data_type in DATA_TYPES:
        for level in LEVELS:
            scope = grants.scope(data_type, level)
            reach = "all" if is_all(scope) else (str(len(scope)) if scope else "-")
            rows.append((data_type, level, reach, " ".join(grants.sources(data_type, level)) or "-"))
    return rows
