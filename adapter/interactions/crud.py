"""read, vread, create, update, delete (FHIR R4 http.html): plain functions over a Context."""
from __future__ import annotations

import uuid
from urllib.parse import parse_qsl, urlencode

from ..enforcement.gate import Gate
from ..enforcement.labels import server_labels
from ..formats.subset import apply_elements, apply_summary
from ..policy import Verdict
from ..outcomes import Issue, OperationOutcomeError, error, gone, invalid, not_found, operation_outcome
from ..resource_types import ID_PATTERN, allows, is_served
from ..search.query import parse_search
from ..storage import WriteResult, WriteUnit
from ..subscriptions.admission import admit as admit_subscription, prepare as prepare_subscription
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


def gate_of(ctx: Context, req: FhirRequest) -> Gate:
    """The request's policy gate; an internal call (no principal: CLI, tests of interactions) sees all."""
    return req.gate if req.gate is not None else Gate(None, None, ctx.repo)


def last_live(ctx: Context, stored):
    """For a deleted resource: the version it deleted (whoever may see that may know of the deletion)."""
    version = stored.version_id - 1
    while version > 0:
        found = ctx.repo.read_version(stored.resource_type, stored.id, version)
        if found is not None and not found.deleted:
            return found
        version -= 1
    return None


def visible_or_404(ctx: Context, req: FhirRequest, stored, shown_id: str) -> dict | None:
    """The caller's view of a stored version (None for a deletion it may know of); anything it may
    not see raises exactly the 404 of an id that never existed (no ETag, same body)."""
    gate = gate_of(ctx, req)
    if stored is None:
        raise not_found(req.resource_type, shown_id)
    if stored.deleted:
        before = last_live(ctx, stored)
        if before is None or gate.serve(before.resource()) is None:
            raise not_found(req.resource_type, shown_id)
        return None
    view = gate.serve(stored.resource())
    if view is None:
        raise not_found(req.resource_type, shown_id)
    return view


def forbidden(verdict) -> OperationOutcomeError:
    return error(403, "forbidden", f"Not permitted by the data-use policy: {verdict.reason}")


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


def _version_response(req: FhirRequest, stored, view: dict) -> FhirResponse:
    resource = _served_view(req, view)
    return FhirResponse(200, resource, version_id=stored.version_id, last_updated=stored.last_updated)


def read(ctx: Context, req: FhirRequest) -> FhirResponse:
    resource_type = check_type(req.resource_type, "read")
    stored = ctx.repo.read(resource_type, check_id(req.id))
    view = visible_or_404(ctx, req, stored, req.id)
    if stored.deleted:
        raise gone(resource_type, req.id, stored.version_id)
    if etag_matches(req.if_none_match, stored.version_id) or (
            not req.if_none_match and not_modified_since(req.if_modified_since, stored.last_updated)):
        return FhirResponse(304, None, version_id=stored.version_id, last_updated=stored.last_updated)
    return _version_response(req, stored, view)


def vread(ctx: Context, req: FhirRequest) -> FhirResponse:
    resource_type = check_type(req.resource_type, "vread")
    check_id(req.id)
    if not (req.version_id or "").isdigit():
        raise not_found(resource_type, f"{req.id}/_history/{req.version_id}")
    stored = ctx.repo.read_version(resource_type, req.id, int(req.version_id))
    view = visible_or_404(ctx, req, stored, f"{req.id}/_history/{req.version_id}")
    if stored.deleted:
        raise gone(resource_type, req.id, stored.version_id)
    return _version_response(req, stored, view)


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


def _admitted(ctx: Context, req: FhirRequest, resource_type: str, resource: dict) -> dict:
    """A Subscription as the server stores it, validated first (admission's checks need a valid
    body; the write then does not validate it again)."""
    if resource_type != "Subscription":
        return resource
    return admit_subscription(ctx, req.principal, _validated(ctx, resource))


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


def conditional_matches(ctx: Context, unit: WriteUnit, resource_type: str, criteria: str,
                        gate: Gate) -> list[str]:
    """Ids (at most two: enough to tell none, one and many) matching a conditional operation's
    criteria, among what the caller may see."""
    params = tuple(parse_qsl(criteria.lstrip("?"), keep_blank_values=True))
    query = parse_search(resource_type, params)
    if not query.criteria:
        raise error(400, "invalid", f"The condition {criteria!r} has no search criteria")
    if query.unknown:  # ignoring part of a condition could update or delete the wrong resource
        raise error(400, "not-supported", f"Unknown parameters in the condition: {', '.join(query.unknown)}")
    unit.serialise_on(f"{resource_type}?{urlencode(sorted(params))}")
    return ctx.search.matching_ids(query, unit.connection, limit=2, access=gate.sql)


def _existing(ctx: Context, req: FhirRequest, unit: WriteUnit, resource_type: str, id_: str) -> FhirResponse:
    stored = unit.current(resource_type, id_, lock=False)
    body = None if req.prefer_return == "minimal" else gate_of(ctx, req).serve(stored.resource())
    return FhirResponse(200, body, version_id=stored.version_id, last_updated=stored.last_updated,
                        location=f"{ctx.fhir_base}/{resource_type}/{id_}/_history/{stored.version_id}")


def create_in(ctx: Context, unit: WriteUnit, req: FhirRequest, resource_type: str, body: dict,
              if_none_exist: str | None = None, new_id: str | None = None) -> FhirResponse:
    if if_none_exist:
        matches = conditional_matches(ctx, unit, resource_type, if_none_exist, gate_of(ctx, req))
        if len(matches) > 1:
            raise error(412, "duplicate", f"If-None-Exist {if_none_exist!r} matches more than one resource")
        if matches:
            return _existing(ctx, req, unit, resource_type, matches[0])
    resource = dict(body)
    # R4: the server assigns the id of a created resource and ignores one in the body.
    resource["id"] = new_id or str(uuid.uuid4())
    resource = _labelled(unit, resource)
    resource = _admitted(ctx, req, resource_type, resource)
    verdict = gate_of(ctx, req).write(None, resource)
    if not verdict.allowed:
        raise forbidden(verdict)
    if resource_type != "Subscription":  # admission validated it
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
    gate = gate_of(ctx, req)
    current = unit.current(resource_type, id_, lock=False)
    before = current.resource() if current is not None and not current.deleted else None
    body = _labelled(unit, body)
    if before is not None and not gate.visible(before):
        if resource_type == "Subscription":  # another client's: as if it did not exist (issue 8)
            raise not_found(resource_type, id_)
        raise forbidden(_HIDDEN)  # the same answer as for a body the caller may not write
    body = _admitted(ctx, req, resource_type, body)
    verdict = gate.write(before, body)
    if not verdict.allowed:
        raise forbidden(verdict)
    if resource_type != "Subscription":  # admission validated it
        _validated(ctx, body)
    result = unit.put(resource_type, id_, body, if_match=if_match, method="PUT", skip_unchanged=True)
    return _written(ctx, req, result, 201 if result.created else 200)


def conditional_update_in(ctx: Context, unit: WriteUnit, req: FhirRequest, resource_type: str, criteria: str,
                          body: dict, if_match: int | None) -> FhirResponse:
    """PUT Type?criteria: one match updates it, none creates, several is a 412 (R4 http.html#cond-update)."""
    matches = conditional_matches(ctx, unit, resource_type, criteria, gate_of(ctx, req))
    if len(matches) > 1:
        raise error(412, "multiple-matches", f"{resource_type}?{criteria} matches more than one resource")
    if matches:
        if body.get("id") not in (None, matches[0]):
            raise error(400, "invalid", f"The body's id {body.get('id')!r} is not the matching resource's")
        return update_in(ctx, unit, req, resource_type, matches[0], dict(body, id=matches[0]), if_match)
    if body.get("id"):
        return update_in(ctx, unit, req, resource_type, body["id"], body, if_match)
    return create_in(ctx, unit, req, resource_type, body)


def _labelled(unit: WriteUnit, resource: dict) -> dict:
    def lookup(resource_type: str, id_: str) -> dict | None:
        found = unit.current(resource_type, id_, lock=False) if id_ else None
        return found.resource() if found is not None and not found.deleted else None

    return server_labels(resource, lookup)


# Writing over a resource the caller may not see: refused like any write it may not make.
_HIDDEN = Verdict(False, "the caller may not write this resource", "rule:hidden")


def _deleted_nothing(req: FhirRequest, resource_type: str, id_: str) -> FhirResponse:
    if req.prefer_return == "minimal":
        return FhirResponse(204, None)
    return FhirResponse(200, operation_outcome([Issue(
        "information", "informational", f"{resource_type}/{id_} does not exist or is already deleted")]))


def delete_in(ctx: Context, unit: WriteUnit, req: FhirRequest, resource_type: str, id_: str,
              if_match: int | None) -> FhirResponse:
    check_id(id_)
    gate = gate_of(ctx, req)
    current = unit.current(resource_type, id_, lock=False)
    if current is not None and not current.deleted:
        before = current.resource()
        if not gate.visible(before):  # what the caller may not see, it cannot find to delete
            return _deleted_nothing(req, resource_type, id_)
        verdict = gate.write(before, None)
        if not verdict.allowed:
            raise forbidden(verdict)
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
    matches = conditional_matches(ctx, unit, resource_type, criteria, gate_of(ctx, req))
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
    if resource_type == "Subscription":
        prepare_subscription(ctx, body)  # DNS outside the write transaction
    return ctx.repo.write_unit(lambda unit: create_in(ctx, unit, req, resource_type, body, req.if_none_exist))


def update(ctx: Context, req: FhirRequest) -> FhirResponse:
    resource_type = check_type(req.resource_type, "update")
    body = _incoming(ctx, req, resource_type)
    if resource_type == "Subscription":
        prepare_subscription(ctx, body)  # DNS outside the write transaction
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

