"""From the Flask request to the plain FhirRequest value."""
from __future__ import annotations

from flask import current_app, g, request

from ..formats import negotiation
from ..formats.json_format import parse_json
from ..interactions.request import FhirRequest
from ..outcomes import error


def _body() -> dict | None:
    data = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    if not data:
        return None
    fmt = negotiation.request_format(request.headers.get("Content-Type"))
    if fmt == negotiation.XML:
        from ..formats.xml import parse_xml

        return parse_xml(data)
    return parse_json(data, max_depth=current_app.extensions["dthub"].config.max_json_depth)


def _search_form() -> tuple[tuple[str, str], ...]:
    if request.mimetype != "application/x-www-form-urlencoded":
        raise error(415, "not-supported", "POST _search takes an application/x-www-form-urlencoded body")
    return tuple(request.form.items(multi=True))


def fhir_request(resource_type: str | None = None, id_: str | None = None, version_id: str | None = None,
                 *, with_body: bool = False, search_form: bool = False) -> FhirRequest:
    return FhirRequest(
        method=request.method,
        resource_type=resource_type,
        id=id_,
        version_id=version_id,
        params=tuple(request.args.items(multi=True)) + (_search_form() if search_form else ()),
        body=_body() if with_body else None,
        if_match=request.headers.get("If-Match"),
        if_none_match=request.headers.get("If-None-Match"),
        if_modified_since=request.headers.get("If-Modified-Since"),
        if_none_exist=request.headers.get("If-None-Exist"),
        prefer=request.headers.get("Prefer"),
        request_id=getattr(g, "request_id", None),
        principal=getattr(g, "principal", None),
        gate=getattr(g, "gate", None),
    )
