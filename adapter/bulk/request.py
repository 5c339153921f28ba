"""A Bulk Data kick-off request, parsed and checked before any work is queued (Bulk Data Access v2,
export.html "Query Parameters"). Everything the job needs later is in the plain `ExportRequest`,
which is stored with the job as JSON."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from urllib.parse import parse_qsl

from ..interactions.context import Context
from ..interactions.operations import operation_parameter_pairs
from ..interactions.preconditions import stored_instant as store_instant
from ..interactions.request import FhirRequest, _prefer_value
from ..interactions.visible import Selection, area_of, checked
from ..outcomes import error
from ..resource_types import SERVED

# What a system-level export holds when `_type` is absent: the Hub's data and what explains it.
# The audit trail (it grows with every call, the export's own included) and the conformance
# resources that ship with the adapter are exported only when `_type` names them.
DEFAULT_TYPES = ("Organization", "Questionnaire", "QuestionnaireResponse", "Task", "Measure", "MeasureReport",
                 "Consent", "Provenance")
# Everything served but Subscriptions: their channel headers may hold the subscriber's secrets, and
# an export file outlives the Subscription it would copy (and may be fetched wherever the token goes).
EXPORTABLE = tuple(t for t in SERVED if t != "Subscription")
NDJSON = "application/fhir+ndjson"
# The spec's synonyms; a `+` sent unencoded in a query string arrives as a space.
OUTPUT_FORMATS = {"application/fhir+ndjson", "application/ndjson", "ndjson", "application/fhir ndjson"}
SUPPORTED = {"_type", "_since", "_typeFilter", "_outputFormat", "organization"}
# General FHIR parameters that change nothing here.
HARMLESS = {"_format", "_pretty"}
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True)
class ExportRequest:
    types: tuple[str, ...]
    since: str | None = None                                        # stored-instant form (UTC, ms)
    filters: dict[str, list[list[tuple[str, str]]]] = field(default_factory=dict)  # type -> OR of criteria
    organization: str | None = None
    ignored: tuple[str, ...] = ()                                   # parameters ignored (lenient handling)

    def selections(self, resource_type: str, *, until: str, area: frozenset[str] | None) -> list[Selection]:
        """One selection per `_typeFilter` of the type (their union is exported), or one for all of it."""
        criteria = self.filters.get(resource_type) or [[]]
        return [Selection(resource_type, since=self.since, until=until, area=area, params=tuple(map(tuple, c)))
                for c in criteria]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ExportRequest":
        return cls(types=tuple(data["types"]), since=data.get("since"),
                   filters={t: [[tuple(p) for p in c] for c in cs] for t, cs in (data.get("filters") or {}).items()},
                   organization=data.get("organization"), ignored=tuple(data.get("ignored") or ()))


def covers(scopes, types) -> bool:
    """Read and search on every exported type (system/*.rs covers any export)."""
    return all(scopes.allows(t, "r") and scopes.allows(t, "s") for t in types)


def stored_instant(value: str) -> str:
    """A FHIR instant as the store writes `meta.lastUpdated` (UTC, milliseconds), or a 400. Bulk
    Data asks for a full instant: the store's parser also takes a bare date, so check first."""
    if not _INSTANT.match(value):
        raise error(400, "invalid", f"_since must be a FHIR instant such as 2026-01-01T00:00:00Z, not {value!r}")
    return store_instant(value)


def _params(req: FhirRequest) -> list[tuple[str, str]]:
    """Query parameters, or for POST the Parameters body (each parameter's value[x] as text)."""
    body = req.body
    if body is not None:
        if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
            raise error(400, "invalid", "POST $export takes a Parameters resource")
        given = body.get("parameter") or []
        for p in given if isinstance(given, list) else [None]:
            values = [v for k, v in p.items() if k.startswith("value")] if isinstance(p, dict) else []
            if len(values) != 1 or not p.get("name") or not isinstance(values[0], (str, int, bool)):
                raise error(400, "invalid", "Each $export parameter needs a name and one primitive value[x]")
    return [(name, str(value)) for name, value in operation_parameter_pairs(req)]


def _types(values: list[str]) -> tuple[str, ...]:
    if not values:
        return DEFAULT_TYPES
    out: list[str] = []
    for value in values:
        for name in (v.strip() for v in value.split(",")):
            if name not in EXPORTABLE:
                raise error(400, "not-supported", f"_type {name!r} is not a resource type this server exports; "
                                                  f"it exports {', '.join(EXPORTABLE)}")
            if name not in out:
                out.append(name)
    return tuple(out)


def _filters(values: list[str], types: tuple[str, ...]) -> dict[str, list[list[tuple[str, str]]]]:
    out: dict[str, list[list[tuple[str, str]]]] = {}
    for value in values:
        type_, mark, query = value.partition("?")
        if not mark or not type_ or not query:
            raise error(400, "invalid", f"_typeFilter must be 'Type?criteria', not {value!r}")
        if type_ not in EXPORTABLE:
            raise error(400, "not-supported", f"_typeFilter names {type_!r}, which is not an exported resource type")
        if type_ not in types:
            raise error(400, "invalid", f"_typeFilter names {type_}, which this export does not include "
                                        "(name it in _type)")
        criteria = parse_qsl(query, keep_blank_values=True)
        checked(Selection(type_, params=tuple(criteria)))  # a bad criterion is a 400 now, not a failed job
        out.setdefault(type_, []).append(criteria)
    return out


def parse_kick_off(ctx: Context, req: FhirRequest) -> ExportRequest:
    if _prefer_value(req.prefer, "respond-async") is None:
        raise error(400, "invalid", "Bulk Data kick-off needs the header 'Prefer: respond-async'")
    strict = (_prefer_value(req.prefer, "handling") or "").lower() == "strict"
    params = _params(req)
    by_name: dict[str, list[str]] = {}
    ignored: list[str] = []
    for key, value in params:
        if key in SUPPORTED:
            by_name.setdefault(key, []).append(value)
        elif key not in HARMLESS:
            if strict:
                raise error(400, "not-supported", f"$export does not support the parameter {key!r} "
                                                  "(Prefer: handling=strict)")
            ignored.append(key)
    fmt = (by_name.get("_outputFormat") or [NDJSON])[-1]
    if fmt.strip().lower() not in OUTPUT_FORMATS:
        raise error(400, "not-supported", f"_outputFormat {fmt!r} is not supported; use application/fhir+ndjson")
    for single in ("_since", "_outputFormat", "organization"):
        if len(by_name.get(single, [])) > 1:
            raise error(400, "invalid", f"{single} may be given once")
    types = _types(by_name.get("_type", []))
    since = stored_instant(by_name["_since"][0]) if by_name.get("_since") else None
    organization = (by_name.get("organization") or [None])[0]
    if organization is not None:
        if area_of(ctx.policy.inputs().hierarchy, organization) is None:
            raise error(400, "invalid", f"organization {organization!r} is not an organisation the Hub knows "
                                        "(give an ODS code)")
    filters = _filters(by_name.get("_typeFilter", []), types)
    return ExportRequest(types=types, since=since, filters=filters, organization=organization,
                         ignored=tuple(dict.fromkeys(ignored)))
