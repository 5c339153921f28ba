"""read, vread, create, update, delete (FHIR R4 http.html): plain functions over a Context."""
from __future__ import annotations

import uuid
from urllib.parse import parse_qsl, urlencode

from ..formats.subset import apply_elements, apply_summary
from ..outcomes import Issue, error, gone, invalid, not_found, operation_outcome
from ..resource_types import ID_PATTERN, allows, is_served
from ..search.query import parse_search
from ..storage import WriteResult, WriteUnit
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


def conditional_matches(ctx: Context, unit: WriteUnit, resource_type: str, criteria: str) -> list[str]:
    """Ids (at most two: enough to tell none, one and many) matching a conditional operation's criteria."""
    params = tuple(parse_qsl(criteria.lstrip("?"), keep_blank_values=True))
    query = parse_search(resource_type, params)
    if not query.criteria:
        raise error(400, "invalid", f"The condition {criteria!r} has no search criteria")
    if query.unknown:  # ignoring part of a condition could update or delete the wrong resource
        raise error(400, "not-supported", f"Unknown parameters in the condition: {', '.join(query.unknown)}")
    unit.serialise_on(f"{resource_type}?{urlencode(sorted(params))}")
    return ctx.search.matching_ids(query, unit.connection, limit=2)


def _existing(ctx: Context, req: FhirRequest, unit: WriteUnit, resource_type: str, id_: str) -> FhirResponse:
    stored = unit.current(resource_type, id_, lock=False)
    body = None if req.prefer_return == "minimal" else stored.resource()
    return FhirResponse(200, body, version_id=stored.version_id, last_updated=stored.last_updated,
                        location=f"{ctx.fhir_base}/{resource_type}/{id_}/_history/{stored.version_id}")


def create_in(ctx: Context, unit: WriteUnit, req: FhirRequest, resource_type: str, body: dict,
              if_none_exist: str | None = None, new_id: str | None = None) -> FhirResponse:
    if if_none_exist:
        matches = conditional_matches(ctx, unit, resource_type, if_none_exist)
        if len(matches) > 1:
            raise error(412, "duplicate", f"If-None-Exist {if_none_exist!r} matches more than one resource")
        if matches:
            return _existing(ctx, req, unit, resource_type, matches[0])
    resource = dict(body)
    # R4: the server assigns the id of a created resource and ignores one in the body.
    resource["id"] = new_id or str(uuid.uuid4())
    _validated(ctx, resource)
    return _written(ctx, req, unit.put(resource_type, resource["id"], resource, method="POST"), 201)


def update_in(ctx: Context, unit: WriteUnit, req: FhirRequest, resource_type: str, id_: str, body: dict,
              if_match: int | None) -> FhirResponse:
    check_id(id_)
    if body.get("id") is None:
        raise error(400, "invalid", "An update needs the resource id in the body", expression=["id"])
    if body.get("id") != id_:
        raise error(400, "invalid", f"The body's id {body.get('id')!r} differs from the URL's {id_!r}",
                    expression=["id"])
    _validated(ctx, body)
    result = unit.put(resource_type, id_, body, if_match=if_match, method="PUT", skip_unchanged=True)
    return _written(ctx, req, result, 201 if result.created else 200)


def conditional_update_in(ctx: Context, unit: WriteUnit, req: FhirRequest, resource_type: str, criteria: str,
                          body: dict, if_match: int | None) -> FhirResponse:
    """PUT Type?criteria: one match updates it, none creates, several is a 412 (R4 http.html#cond-update)."""
    matches = conditional_matches(ctx, unit, resource_type, criteria)
    if len(matches) > 1:
        raise error(412, "multiple-matches", f"{resource_type}?{criteria} matches more than one resource")
    if matches:
        if body.get("id") not in (None, matches[0]):
            raise error(400, "invalid", f"The body's id {body.get('id')!r} is not the matching resource's")
        return update_in(ctx, unit, req, resource_type, matches[0], dict(body, id=matches[0]), if_match)
    if body.get("id"):
        return update_in(ctx, unit, req, resource_type, body["id"], body, if_match)
    return create_in(ctx, unit, req, resource_type, body)


def delete_in(ctx: Context, unit: WriteUnit, req: FhirRequest, resource_type: str, id_: str,
              if_match: int | None) -> FhirResponse:
    check_id(id_)
    result = unit.put(resource_type, id_, None, if_match=if_match, method="DELETE")
    text = (f"Deleted {resource_type}/{id_} (version {result.version.version_id})" if result.changed
            else f"{resource_type}/{id_} does not exist or is already deleted")
    if req.prefer_return == "minimal":
        response = FhirResponse(204, None)
    else:
        response = FhirResponse(200, operation_outcome([Issue("information", "informational", text)]))
    if result.changed:
        response.version_id = result.version.version_id
    return response


def conditional_delete_in(ctx: Context, unit: WriteUnit, req: FhirRequest, resource_type: str,
                          criteria: str) -> FhirResponse:
    matches = conditional_matches(ctx, unit, resource_type, criteria)
    if len(matches) > 1:
        raise error(412, "multiple-matches", f"{resource_type}?{criteria} matches more than one resource")
    if not matches:
        return FhirResponse(204 if req.prefer_return == "minimal" else 200, None if req.prefer_return == "minimal"
                            else operation_outcome([Issue("information", "informational", "Nothing matched")]))
    return delete_in(ctx, unit, req, resource_type, matches[0], None)


def _if_match(req: FhirRequest) -> int | None:
    return parse_etag(req.if_match, "If-Match") if req.if_match else None


def _criteria(req: FhirRequest) -> str:
    return urlencode([(k, v) for k, v in req.params if k not in ("_format", "_pretty")])


def create(ctx: Context, req: FhirRequest) -> FhirResponse:
    resource_type = check_type(req.resource_type, "create")
    body = _incoming(ctx, req, resource_type)
    return ctx.repo.write_unit(lambda unit: create_in(ctx, unit, req, resource_type, body, req.if_none_exist))


def update(ctx: Context, req: FhirRequest) -> FhirResponse:
    resource_type = check_type(req.resource_type, "update")
    body = _incoming(ctx, req, resource_type)
    if_match = _if_match(req)
    if req.id is None:
        return ctx.repo.write_unit(lambda unit: conditional_update_in(
            ctx, unit, req, resource_type, _criteria(req), body, if_match))
    id_ = check_id(req.id)
    return ctx.repo.write_unit(lambda unit: update_in(ctx, unit, req, resource_type, id_, body, if_match))


def delete(ctx: Context, req: FhirRequest) -> FhirResponse:
    resource_type = check_type(req.resource_type, "delete")
    if req.id is None:
        return ctx.repo.write_unit(lambda unit: conditional_delete_in(ctx, unit, req, resource_type, _criteria(req)))
    id_ = check_id(req.id)
    if_match = _if_match(req)
    return ctx.repo.write_unit(lambda unit: delete_in(ctx, unit, req, resource_type, id_, if_match))

