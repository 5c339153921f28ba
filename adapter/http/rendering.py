"""Turning interaction results into HTTP responses: format, standard headers, one place."""
from __future__ import annotations

from flask import Response, g, request

from ..formats import negotiation
from ..formats.json_format import to_json
from ..interactions.preconditions import etag, http_date
from ..interactions.request import FhirResponse
from ..outcomes import OperationOutcomeError


def negotiated_format() -> str:
    fmt = getattr(g, "response_format", None)
    if fmt is None:
        fmt = negotiation.response_format(request.args.get("_format"), request.headers.get("Accept"))
        g.response_format = fmt
    return fmt


def safe_format() -> str:
    """For error responses: the negotiated format when there is one, else JSON."""
    try:
        return negotiated_format()
    except OperationOutcomeError:
        return negotiation.JSON


def _pretty() -> bool:
    return (request.args.get("_pretty") or "").lower() == "true"


def serialise(resource: dict, fmt: str) -> bytes:
    if fmt == negotiation.XML:
        from ..formats.xml import to_xml

        return to_xml(resource, pretty=_pretty())
    return to_json(resource, pretty=_pretty())


def render(result: FhirResponse, fmt: str | None = None) -> Response:
    fmt = fmt or negotiated_format()
    if result.resource is not None and result.status != 304:
        response = Response(serialise(result.resource, fmt), status=result.status,
                            content_type=f"{negotiation.MIME[fmt]}; charset=utf-8")
    else:
        response = Response(status=result.status)
    if result.version_id is not None:
        response.headers["ETag"] = etag(result.version_id)
    if result.last_updated:
        response.headers["Last-Modified"] = http_date(result.last_updated)
    if result.location:
        response.headers["Location"] = result.location
        if result.status == 201:
            response.headers["Content-Location"] = result.location
    for key, value in result.headers.items():
        response.headers[key] = value
    request_id = getattr(g, "request_id", None)
    if request_id:
        response.headers["X-Request-ID"] = request_id
    return response


def render_error(err: OperationOutcomeError) -> Response:
    outcome = err.outcome()
    request_id = getattr(g, "request_id", None)
    if request_id:
        outcome["id"] = request_id
    return render(FhirResponse(err.status, outcome, headers=dict(err.headers)), safe_format())
