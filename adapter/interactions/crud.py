"""read, vread, create, update, delete (FHIR R4 http.html): plain functions over a Context."""
from __future__ import annotations

import uuid

from ..formats.subset import apply_elements, apply_summary
from ..outcomes import Issue, OperationOutcomeError, error, gone, invalid, not_found, operation_outcome
from ..resource_types import ID_PATTERN, allows, is_served
from ..storage import WriteResult
from .context import Context
from .preconditions import etag_matches, not_modified_since, parse_etag
from .request import FhirRequest, FhirResponse


def check_type(resource_type: str | None, interaction: str) -> str:
    if not resource_type or not is_served(resource_type):
        raise error(404, "not-supported", f"Resource type {resource_type!r} is not served here")
    if not allows(resource_type, interaction):
        raise error(405, "not-supported", f"{interaction} is not allowed on {resource_type}",
                    headers={"Allow": "GET"})
    return resource_type


def check_id(id_: str | None) -> str:
    if not id_ or not ID_PATTERN.match(id_):
        raise error(400, "invalid", f"{id_!r} is not a valid FHIR id ([A-Za-z0-9-.]{{1,64}})")
    return id_


def _served_view(req: FhirRequest, resource: dict) -> dict:
    summary = req.param("_summary")
    elements = req.param("_elements")
    if summary and elements:
        raise error(400, "invalid", "_summary and _elements cannot be combined")
    return apply_elements(apply_summary(resource, summary), elements)


def _version_response(req: FhirRequest, stored) -> FhirResponse:
    resource = _served_view(req, stored.resource())
    return FhirResponse(200, resource, version_id=stored.version_id, last_updated=stored.last_updated)


def read(ctx: Context, req: FhirRequest) -> FhirResponse:
    resource_type = check_type(req.resource_type, "read")
    stored = ctx.repo.read(resource_type, check_id(req.id))
    if stored is None:
        raise not_found(resource_type, req.id)
    if stored.deleted:
        raise gone(resource_type, req.id, stored.version_id)
    if etag_matches(req.if_none_match, stored.version_id) or (
            not req.if_none_match and not_modified_since(req.if_modified_since, stored.last_updated)):
        return FhirResponse(304, None, version_id=stored.version_id, last_updated=stored.last_updated)
    return _version_response(req, stored)


def vread(ctx: Context, req: FhirRequest) -> FhirResponse:
    resource_type = check_type(req.resource_type, "vread")
    check_id(req.id)
    if not (req.version_id or "").isdigit():
        raise not_found(resource_type, f"{req.id}/_history/{req.version_id}")
    stored = ctx.repo.read_version(resource_type, req.id, int(req.version_id))
    if stored is None:
        raise not_found(resource_type, f"{req.id}/_history/{req.version_id}")
    if stored.deleted:
        raise gone(resource_type, req.id, stored.version_id)
    return _version_response(req, stored)


def _incoming(ctx: Context, req: FhirRequest, resource_type: str) -> dict:
    body = req.body
    if body is None:
        raise error(400, "structure", "The request needs a body holding a FHIR resource")
    if body.get("resourceType") != resource_type:
        raise error(400, "invalid", f"The body is a {body.get('resourceType')}, but the URL names {resource_type}",
                    expression=["resourceType"])
    return body


def _validated(ctx: Context, resource: dict) -> dict:
    issues = ctx.validate(resource)
    errors = [i for i in issues if i.severity in ("error", "fatal")]
    if errors:
        raise invalid(errors)
    return resource


def _written(ctx: Context, req: FhirRequest, result: WriteResult, status: int) -> FhirResponse:
    stored = result.version
    location = f"{ctx.fhir_base}/{stored.resource_type}/{stored.id}/_history/{stored.version_id}"
    preference = req.prefer_return
    if preference == "minimal":
        body = None
    elif preference.lower() == "operationoutcome":
        verb = "created" if status == 201 else ("updated" if result.changed else "unchanged")
        body = operation_outcome([Issue("information", "informational",
                                        f"{stored.resource_type}/{stored.id} {verb} (version {stored.version_id})")])
    else:
        body = stored.resource()
    return FhirResponse(status, body, version_id=stored.version_id, last_updated=stored.last_updated,
                        location=location)


def create(ctx: Context, req: FhirRequest) -> FhirResponse:
    resource_type = check_type(req.resource_type, "create")
    resource = dict(_incoming(ctx, req, resource_type))
    # R4: the server assigns the id of a created resource and ignores one in the body.
    resource["id"] = str(uuid.uuid4())
    _validated(ctx, resource)
    result = ctx.repo.put(resource_type, resource["id"], resource, method="POST")
    return _written(ctx, req, result, 201)


def update(ctx: Context, req: FhirRequest) -> FhirResponse:
    resource_type = check_type(req.resource_type, "update")
    id_ = check_id(req.id)
    resource = _incoming(ctx, req, resource_type)
    if resource.get("id") is None:
        raise error(400, "invalid", "An update needs the resource id in the body", expression=["id"])
    if resource.get("id") != id_:
        raise error(400, "invalid", f"The body's id {resource.get('id')!r} differs from the URL's {id_!r}",
                    expression=["id"])
    if_match = parse_etag(req.if_match, "If-Match") if req.if_match else None
    _validated(ctx, resource)
    result = ctx.repo.put(resource_type, id_, resource, if_match=if_match, method="PUT", skip_unchanged=True)
    return _written(ctx, req, result, 201 if result.created else 200)


def delete(ctx: Context, req: FhirRequest) -> FhirResponse:
    resource_type = check_type(req.resource_type, "delete")
    id_ = check_id(req.id)
    if_match = parse_etag(req.if_match, "If-Match") if req.if_match else None
    result = ctx.repo.put(resource_type, id_, None, if_match=if_match, method="DELETE")
    text = (f"Deleted {resource_type}/{id_} (version {result.version.version_id})" if result.changed
            else f"{resource_type}/{id_} does not exist or is already deleted")
    if req.prefer_return == "minimal":
        response = FhirResponse(204, None)
    else:
        response = FhirResponse(200, operation_outcome([Issue("information", "informational", text)]))
    if result.changed:
        response.version_id = result.version.version_id
    return response


__all__ = ["read", "vread", "create", "update", "delete", "check_type", "check_id", "OperationOutcomeError"]
