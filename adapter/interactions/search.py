"""search-type (FHIR R4 search.html): searchset Bundles with paging links, includes and outcomes."""
from __future__ import annotations

import uuid
from urllib.parse import urlencode

from ..formats.subset import apply_elements, apply_summary
from ..outcomes import Issue, error, operation_outcome
from ..search.engine import Page
from ..search.query import SearchQuery, parse_search
from .context import Context
from .crud import check_type, gate_of
from .request import FhirRequest, FhirResponse, _prefer_value

_KEPT_IN_LINKS = ("_format", "_pretty")


def _strict(req: FhirRequest) -> bool:
    return (_prefer_value(req.prefer, "handling") or "").lower() == "strict"


def _query(ctx: Context, resource_type: str, params) -> SearchQuery:
    return parse_search(resource_type, tuple(params), default_count=ctx.config.default_page_size,
                        max_count=ctx.config.max_page_size)


def _view(query: SearchQuery, resource: dict) -> dict:
    if query.summary in ("true", "text", "data"):
        return apply_summary(resource, query.summary)
    return apply_elements(resource, query.elements)


def _link(ctx: Context, relation: str, resource_type: str, params: list[tuple[str, str]]) -> dict:
    query = urlencode(params)
    return {"relation": relation, "url": f"{ctx.fhir_base}/{resource_type}" + (f"?{query}" if query else "")}


def _served(gate, versions) -> list[tuple]:
    """(version, the caller's view) for each version the policy lets leave, in order."""
    out = []
    for version in versions:
        view = gate.serve(version.resource())
        if view is not None:
            out.append((version, view))
    return out


def _bundle(ctx: Context, req: FhirRequest, query: SearchQuery, page: Page, self_params: list) -> FhirResponse:
    base = ctx.fhir_base
    gate = gate_of(ctx, req)
    matches = _served(gate, page.matches)
    entries = [{"fullUrl": f"{base}/{v.resource_type}/{v.id}", "resource": _view(query, view),
                "search": {"mode": "match"}} for v, view in matches]
    included, truncated = ctx.search.included([v for v, _ in matches], query.includes, query.revincludes,
                                              access=gate.sql, keep=lambda v: gate.visible(v.resource()))
    entries += [{"fullUrl": f"{base}/{v.resource_type}/{v.id}", "resource": view,
                 "search": {"mode": "include"}} for v, view in _served(gate, included)]
    notes = []
    if not gate.may_see_any(query.resource_type):
        notes.append(_suppressed(query.resource_type))
    if query.unknown:
        notes.append(Issue("warning", "not-supported",
                           f"Unknown or unsupported search parameters were ignored: {', '.join(query.unknown)}"))
    if truncated:
        notes.append(Issue("warning", "too-costly", "Included resources were cut at 1000 for this page"))
    if notes:
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": operation_outcome(notes),
                        "search": {"mode": "outcome"}})
    kept = [(k, v) for k, v in req.params if k in _KEPT_IN_LINKS]
    links = [_link(ctx, "self", query.resource_type, self_params)]
    if page.search_id:
        def paged(offset: int) -> list:
            return [("_getpages", page.search_id), ("_getpagesoffset", str(offset)), ("_count", str(query.count))] + kept

        links.append(_link(ctx, "first", query.resource_type, paged(0)))
        if page.offset + query.count < page.total:
            links.append(_link(ctx, "next", query.resource_type, paged(page.offset + query.count)))
        if page.offset > 0:
            links.append(_link(ctx, "previous", query.resource_type, paged(max(page.offset - query.count, 0))))
    else:
        links.append(_link(ctx, "first", query.resource_type, self_params))
    bundle = {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "searchset"}
    if query.total != "none":
        bundle["total"] = page.total
    bundle["link"] = links
    if entries:
        bundle["entry"] = entries
    return FhirResponse(200, bundle)


def _suppressed(resource_type: str) -> Issue:
    return Issue("information", "suppressed",
                 f"The data-use policy grants this caller no {resource_type} at Practice level; aggregates "
                 "it may see are available from Measure/[id]/$evaluate-measure")


def _searcher(req: FhirRequest) -> str | None:
    """Who a materialised search belongs to: the client *and* the purpose its token carries."""
    if req.principal is None:
        return None
    return f"{req.principal.client_id} {req.principal.purpose}"


def _page_request(ctx: Context, req: FhirRequest, resource_type: str) -> FhirResponse:
    stored = ctx.search.stored_search(req.param("_getpages") or "", _searcher(req))
    if stored is None:  # unknown, expired, or another principal's: all look the same
        raise error(404, "not-found", "This search page is not known (searches expire after an hour)")
    params, total = stored
    query = _query(ctx, resource_type, [tuple(p) for p in params])
    offset_raw = req.param("_getpagesoffset") or "0"
    if not offset_raw.isdigit():
        raise error(400, "invalid", "_getpagesoffset must be a whole number")
    count_raw = req.param("_count")
    if count_raw is not None:
        query = parse_search(resource_type, tuple(tuple(p) for p in params) + (("_count", count_raw),),
                             default_count=ctx.config.default_page_size, max_count=ctx.config.max_page_size)
    page = ctx.search.page_of(req.param("_getpages"), resource_type, int(offset_raw), max(query.count, 1), total,
                              access=gate_of(ctx, req).sql)
    self_params = [(k, v) for k, v in req.params]
    return _bundle(ctx, req, query, page, self_params)


def search_type(ctx: Context, req: FhirRequest) -> FhirResponse:
    resource_type = check_type(req.resource_type, "search-type")
    if req.param("_getpages"):
        return _page_request(ctx, req, resource_type)
    params = [(k, v) for k, v in req.params if k not in ("_getpages", "_getpagesoffset")]
    query = _query(ctx, resource_type, params)
    if query.unknown and _strict(req):
        raise error(400, "not-supported", f"Unknown search parameters: {', '.join(query.unknown)} "
                    "(Prefer: handling=strict)", expression=list(query.unknown))
    gate = gate_of(ctx, req)
    if query.summary == "count" or query.count == 0:
        bundle = {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "searchset",
                  "total": ctx.search.count(query, access=gate.sql), "link": [_link(ctx, "self", resource_type, params)]}
        if not gate.may_see_any(resource_type):
            bundle["entry"] = [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "search": {"mode": "outcome"},
                                "resource": operation_outcome([_suppressed(resource_type)])}]
        return FhirResponse(200, bundle)
    page = ctx.search.first_page(query, client_id=_searcher(req), raw_params=params, access=gate.sql,
                                 reuse=gate.reuse_key())
    return _bundle(ctx, req, query, page, params)
