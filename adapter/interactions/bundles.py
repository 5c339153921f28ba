"""batch and transaction (FHIR R4 http.html#transaction).

A transaction is one write unit: ids are planned first (so `urn:uuid:` and conditional references
can be rewritten), then entries run in R4's order — DELETE, POST, PUT, GET — and the first
failure rolls everything back; its OperationOutcome is the answer. A batch runs each entry on
its own and reports each outcome in its entry.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

from ..auth.bearer import authorise
from ..outcomes import OperationOutcomeError, error
from ..storage import WriteUnit
from ..subscriptions.admission import prepare as prepare_subscription
from . import crud
from .context import Context
from .preconditions import etag, etag_matches, parse_etag
from .request import FhirRequest, FhirResponse

ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "GET": 3, "HEAD": 3}


@dataclass(frozen=True)
class Entry:
    index: int
    method: str
    resource_type: str
    id: str | None
    version: str | None
    query: str | None  # the part after '?', for searches and conditional operations
    body: dict | None
    full_url: str | None
    if_none_exist: str | None
    if_match: str | None
    if_none_match: str | None


def _parse_entry(ctx: Context, index: int, raw: dict) -> Entry:
    request = raw.get("request") or {}
    method = (request.get("method") or "").upper()
    if method not in ORDER and method != "PATCH":
        raise error(400, "invalid", f"entry {index}: request.method {method!r} is not GET, POST, PUT or DELETE")
    if method == "PATCH":
        raise error(405, "not-supported", f"entry {index}: PATCH is not supported")
    url = request.get("url") or ""
    if url.startswith(ctx.fhir_base + "/"):
        url = url[len(ctx.fhir_base) + 1:]
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if not segments:
        raise error(400, "invalid", f"entry {index}: request.url {url!r} names no resource type")
    resource_type = segments[0]
    id_ = segments[1] if len(segments) > 1 else None
    version = segments[3] if len(segments) == 4 and segments[2] == "_history" else None
    if len(segments) > 2 and version is None:
        raise error(400, "not-supported", f"entry {index}: request.url {url!r} is not supported in a Bundle")
    body = raw.get("resource")
    if method in ("POST", "PUT") and not isinstance(body, dict):
        raise error(400, "invalid", f"entry {index}: a {method} entry needs a resource")
    return Entry(index, method, resource_type, id_, version, parts.query or None, body, raw.get("fullUrl"),
                 request.get("ifNoneExist"), request.get("ifMatch"), request.get("ifNoneMatch"))


def _sub_request(req: FhirRequest, entry: Entry) -> FhirRequest:
    return replace(req, method=entry.method, resource_type=entry.resource_type, id=entry.id,
                   version_id=entry.version, params=tuple(parse_qsl(entry.query or "", keep_blank_values=True)),
                   body=entry.body, if_match=entry.if_match, if_none_match=entry.if_none_match,
                   if_none_exist=entry.if_none_exist)


def _interaction(entry: Entry) -> str:
    if entry.method in ("GET", "HEAD"):
        if entry.version:
            return "vread"
        return "read" if entry.id else "search-type"
    return {"POST": "create", "PUT": "update", "DELETE": "delete"}[entry.method]


def _check(req: FhirRequest, entry: Entry) -> None:
    interaction = _interaction(entry)
    crud.check_type(entry.resource_type, interaction)
    if req.principal is not None:
        authorise(req.principal, interaction, entry.resource_type)


def _response_entry(ctx: Context, entry: Entry, result: FhirResponse) -> dict:
    out: dict = {}
    if result.resource is not None:
        out["resource"] = result.resource
    response: dict = {"status": f"{result.status} {HTTPStatus(result.status).phrase}"}
    if result.location:
        response["location"] = result.location
    if result.version_id is not None:
        response["etag"] = etag(result.version_id)
    if result.last_updated:
        response["lastModified"] = result.last_updated
    out["response"] = response
    return out


def _rewrite_references(node, mapping: dict[str, str]):
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "reference" and isinstance(value, str) and value in mapping:
                out[key] = mapping[value]
            else:
                out[key] = _rewrite_references(value, mapping)
        return out
    if isinstance(node, list):
        return [_rewrite_references(v, mapping) for v in node]
    return node


def _conditional_references(ctx: Context, unit: WriteUnit, req: FhirRequest,
                            entries: list[Entry]) -> dict[str, str]:
    """`Type?criteria` references resolved to the one resource they match (R4: else the transaction fails)."""
    found: dict[str, str] = {}

    def walk(node):
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str) and "?" in ref and not ref.startswith(("http", "urn:")) and ref not in found:
                resource_type, _, criteria = ref.partition("?")
                crud.check_type(resource_type, "search-type")
                matches = crud.conditional_matches(ctx, unit, resource_type, criteria, crud.gate_of(ctx, req))
                if len(matches) != 1:
                    raise error(412, "not-found" if not matches else "multiple-matches",
                                f"The conditional reference {ref!r} matches {len(matches)} resources, not one")
                found[ref] = f"{resource_type}/{matches[0]}"
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for entry in entries:
        walk(entry.body)
    return found


def _plan_ids(ctx: Context, unit: WriteUnit, req: FhirRequest,
              entries: list[Entry]) -> tuple[dict[str, str], dict[int, str]]:
    """Where each fullUrl will live, and the id each POST will create (or find, for ifNoneExist)."""
    mapping, new_ids = {}, {}
    for entry in entries:
        if entry.method == "POST":
            id_ = str(uuid.uuid4())
            if entry.if_none_exist:
                matches = crud.conditional_matches(ctx, unit, entry.resource_type, entry.if_none_exist,
                                                   crud.gate_of(ctx, req))
                if len(matches) > 1:
                    raise error(412, "duplicate", f"entry {entry.index}: ifNoneExist matches several resources")
                id_ = matches[0] if matches else id_
            new_ids[entry.index] = id_
            if entry.full_url:
                mapping[entry.full_url] = f"{entry.resource_type}/{id_}"
        elif entry.method == "PUT" and entry.full_url and entry.id:
            mapping[entry.full_url] = f"{entry.resource_type}/{entry.id}"
    return mapping, new_ids


def _run(ctx: Context, unit: WriteUnit, req: FhirRequest, entry: Entry, new_id: str | None) -> FhirResponse:
    sub = _sub_request(req, entry)
    if_match = parse_etag(entry.if_match, "ifMatch") if entry.if_match else None
    if entry.method == "DELETE":
        if entry.id:
            return crud.delete_in(ctx, unit, sub, entry.resource_type, entry.id, if_match)
        return crud.conditional_delete_in(ctx, unit, sub, entry.resource_type, entry.query or "")
    if entry.method == "POST":
        return crud.create_in(ctx, unit, sub, entry.resource_type, entry.body, entry.if_none_exist, new_id=new_id)
    if entry.method == "PUT":
        if entry.body.get("resourceType") != entry.resource_type:
            raise error(400, "invalid", f"entry {entry.index}: the resource is not a {entry.resource_type}")
        if entry.id:
            return crud.update_in(ctx, unit, sub, entry.resource_type, entry.id, entry.body, if_match)
        return crud.conditional_update_in(ctx, unit, sub, entry.resource_type, entry.query or "", entry.body, if_match)
    return _read_in(ctx, unit, sub, entry)


def _read_in(ctx: Context, unit: WriteUnit, req: FhirRequest, entry: Entry) -> FhirResponse:
    if entry.id is None:  # a search inside a Bundle: one page, seen from this transaction
        from ..search.query import parse_search

        gate = crud.gate_of(ctx, req)
        query = parse_search(entry.resource_type, req.params)
        ids = ctx.search.matching_ids(query, unit.connection, limit=query.count, access=gate.sql)
        found = [unit.current(entry.resource_type, i, lock=False) for i in ids]
        served = [(v, gate.serve(v.resource())) for v in found]
        served = [(v, view) for v, view in served if view is not None]
        bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(served),
                  "entry": [{"fullUrl": f"{ctx.fhir_base}/{v.resource_type}/{v.id}", "resource": view,
                             "search": {"mode": "match"}} for v, view in served]}
        if not served:
            del bundle["entry"]
        return FhirResponse(200, bundle)
    stored = unit.current(entry.resource_type, crud.check_id(entry.id), lock=False)
    if entry.version:
        stored = (ctx.repo.read_version(entry.resource_type, entry.id, int(entry.version))
                  if entry.version.isdigit() else None)
    shown = entry.id if not entry.version else f"{entry.id}/_history/{entry.version}"
    view = crud.visible_or_404(ctx, req, stored, shown)
    if stored.deleted:
        raise error(410, "deleted", f"Resource {entry.resource_type}/{entry.id} was deleted")
    if etag_matches(entry.if_none_match, stored.version_id):
        return FhirResponse(304, None, version_id=stored.version_id, last_updated=stored.last_updated)
    return FhirResponse(200, view, version_id=stored.version_id, last_updated=stored.last_updated)


def _prepare(ctx: Context, entry: Entry) -> None:
    """What create and update do before their write transaction, for an entry (a Subscription's
    endpoint DNS lookup: inside the unit it would run under SQLite's write lock)."""
    if entry.resource_type == "Subscription" and entry.method in ("POST", "PUT"):
        prepare_subscription(ctx, entry.body)


def _transaction(ctx: Context, req: FhirRequest, entries: list[Entry]) -> FhirResponse:
    def work(unit: WriteUnit) -> list[dict]:
        mapping, new_ids = _plan_ids(ctx, unit, req, entries)
        mapping.update(_conditional_references(ctx, unit, req, entries))
        planned = [replace(e, body=_rewrite_references(e.body, mapping)) if e.body else e for e in entries]
        results: dict[int, dict] = {}
        for entry in sorted(planned, key=lambda e: (ORDER[e.method], e.index)):
            try:
                result = _run(ctx, unit, req, entry, new_ids.get(entry.index))
            except OperationOutcomeError as err:
                if err.issues:  # say which entry failed the transaction
                    first = err.issues[0]
                    err.issues[0] = replace(first, diagnostics=f"entry {entry.index}: {first.diagnostics}")
                raise
            results[entry.index] = _response_entry(ctx, entry, result)
        return [results[i] for i in range(len(entries))]

    bundle = {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "transaction-response"}
    for entry in entries:
        _prepare(ctx, entry)
    response_entries = ctx.repo.write_unit(work)
    if response_entries:
        bundle["entry"] = response_entries
    return FhirResponse(200, bundle)


def _batch(ctx: Context, req: FhirRequest, entries: list[Entry | OperationOutcomeError]) -> FhirResponse:
    results: dict[int, dict] = {}
    runnable = [e for e in entries if isinstance(e, Entry)]
    for index, item in enumerate(entries):
        if isinstance(item, OperationOutcomeError):
            results[index] = _failed(item)
    for entry in sorted(runnable, key=lambda e: (ORDER[e.method], e.index)):
        try:
            _check(req, entry)
            _prepare(ctx, entry)
            result = ctx.repo.write_unit(lambda unit, entry=entry: _run(ctx, unit, req, entry, None))
            results[entry.index] = _response_entry(ctx, entry, result)
        except OperationOutcomeError as err:
            results[entry.index] = _failed(err)
    bundle = {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "batch-response"}
    if entries:
        bundle["entry"] = [results[i] for i in range(len(entries))]
    return FhirResponse(200, bundle)


def _failed(err: OperationOutcomeError) -> dict:
    return {"response": {"status": f"{err.status} {HTTPStatus(err.status).phrase}", "outcome": err.outcome()}}


def batch_or_transaction(ctx: Context, req: FhirRequest) -> FhirResponse:
    body = req.body
    if not body or body.get("resourceType") != "Bundle" or body.get("type") not in ("batch", "transaction"):
        raise error(400, "invalid", "POST to the base needs a Bundle of type batch or transaction")
    raw_entries = body.get("entry", [])
    if not isinstance(raw_entries, list) or not all(isinstance(e, dict) for e in raw_entries):
        raise error(400, "structure", "Bundle.entry must be a list of entries")
    # The envelope is checked here; each entry's resource when its entry runs, so a batch entry fails alone.
    envelope = dict(body, entry=[{k: v for k, v in e.items() if k != "resource"} for e in raw_entries])
    if not raw_entries:
        envelope.pop("entry")
    issues = [i for i in ctx.validate(envelope) if i.severity in ("error", "fatal")]
    if issues:
        raise OperationOutcomeError(422, issues)
    if body["type"] == "transaction":
        entries = [_parse_entry(ctx, i, raw) for i, raw in enumerate(raw_entries)]
        for entry in entries:
            _check(req, entry)
        return _transaction(ctx, req, entries)
    parsed: list[Entry | OperationOutcomeError] = []
    for i, raw in enumerate(raw_entries):
        try:
            parsed.append(_parse_entry(ctx, i, raw))
        except OperationOutcomeError as err:
            parsed.append(err)
    return _batch(ctx, req, parsed)
