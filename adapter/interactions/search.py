"""search-type (FHIR R4 search.html): searchset Bundles with paging links, includes and outcomes."""
from __future__ import annotations

import uuid
from urllib.parse import urlencode

from ..formats.subset import apply_elements, apply_summary
from ..outcomes import Issue, error, operation_outcome
from ..search.engine import Page
from ..search.query import SearchQuery, parse_search
from .context import Context
from .crud import check_type
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


def _bundle(ctx: Context, req: FhirRequest, query: SearchQuery, page: Page, self_params: list) -> FhirResponse:
    base = ctx.fhir_base
    entries = [{"fullUrl": f"{base}/{v.resource_type}/{v.id}", "resource": _view(query, v.resource()),
                "search": {"mode": "match"}} for v in page.matches]
    included, truncated = ctx.search.included(page.matches, query.includes, query.revincludes)
    entries += [{"fullUrl": f"{base}/{v.resource_type}/{v.id}", "resource": v.resource(),
                 "search": {"mode": "include"}} for v in included]
    notes = []
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


def _page_request(ctx: Context, req: FhirRequest, resource_type: str) -> FhirResponse:
    client_id = getattr(req.principal, "client_id", None)
    stored = ctx.search.stored_search(req.param("_getpages") or "", client_id)
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
    page = ctx.search.page_of(req.param("_getpages"), resource_type, int(offset_raw), max(query.count, 1), total)
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
    if query.summary == "count" or query.count == 0:
        bundle = {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "searchset",
                  "total": ctx.search.count(query), "link": [_link(ctx, "self", resource_type, params)]}
        return FhirResponse(200, bundle)
    page = ctx.search.first_page(query, client_id=getattr(req.principal, "client_id", None), raw_params=params)
    return _bundle(ctx, req, query, page, params)
