"""$validate and the terminology operations ($lookup, $validate-code, $expand) as plain functions."""
from __future__ import annotations

from ..outcomes import Issue, error, not_found, operation_outcome
from .context import Context
from .crud import check_id, check_type, visible_or_404
from .request import FhirRequest, FhirResponse

B = "https://fhir.dandthub.co.uk"


def operation_parameter_pairs(req: FhirRequest) -> list[tuple[str, object]]:
    """Every input in order, repeats kept: the query string's, then a Parameters body's (a
    `resource`, or each value[x]). A body that is not a Parameters resource gives none."""
    found: list[tuple[str, object]] = list(req.params)
    body = req.body
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        params = body.get("parameter") or []
        if not isinstance(params, list) or not all(isinstance(p, dict) for p in params):
            raise error(400, "invalid", "Parameters.parameter must be a list of parameters")
        for param in params:
            name = param.get("name")
            if "resource" in param:
                found.append((name, param["resource"]))
                continue
            found.extend((name, value) for key, value in param.items() if key.startswith("value"))
    return found


def operation_parameters(req: FhirRequest) -> dict:
    """Inputs from the query string and from a Parameters body: name -> value (first one wins)."""
    found: dict = {}
    for key, value in operation_parameter_pairs(req):
        found.setdefault(key, value)
    return found


def validate(ctx: Context, req: FhirRequest) -> FhirResponse:
    resource_type = check_type(req.resource_type, "read")
    inputs = operation_parameters(req)
    candidate = inputs.get("resource") if isinstance(inputs.get("resource"), dict) else req.body
    if candidate is not None and candidate.get("resourceType") == "Parameters":
        candidate = None
    if candidate is None and req.id:
        stored = ctx.repo.read(resource_type, check_id(req.id))
        candidate = visible_or_404(ctx, req, stored, req.id)
        if candidate is None:
            raise not_found(resource_type, req.id)
    if candidate is None:
        raise error(400, "required", "$validate needs a resource: the body, or a Parameters `resource`")
    if candidate.get("resourceType") != resource_type:
        raise error(400, "invalid", f"The resource is a {candidate.get('resourceType')}, not a {resource_type}")
    issues = ctx.validate(candidate)
    if not issues:
        issues = [Issue("information", "informational", "All OK: no problems found")]
    # R4: the operation succeeded even when the resource is invalid; the outcome carries the verdict.
    return FhirResponse(200, operation_outcome(issues))


def _stored_url(ctx: Context, resource_type: str, id_: str | None) -> str | None:
    if not id_:
        return None
    stored = ctx.repo.read(resource_type, check_id(id_))
    if stored is None or stored.deleted:
        raise error(404, "not-found", f"Resource {resource_type}/{id_} is not known")
    return stored.resource().get("url")


def lookup(ctx: Context, req: FhirRequest) -> FhirResponse:
    from terminology.operations import lookup as do_lookup

    p = operation_parameters(req)
    return FhirResponse(200, do_lookup(p.get("system"), p.get("code"), p.get("version"), coding=p.get("coding")))


def validate_code(ctx: Context, req: FhirRequest) -> FhirResponse:
    from terminology.operations import validate_code as do_validate

    p = operation_parameters(req)
    url = _stored_url(ctx, req.resource_type, req.id) or p.get("url")
    return FhirResponse(200, do_validate(url, p.get("code"), p.get("display"), system=p.get("system"),
                                         coding=p.get("coding"), codeable_concept=p.get("codeableConcept"),
                                         version=p.get("version")))


def expand(ctx: Context, req: FhirRequest) -> FhirResponse:
    from terminology.operations import expand as do_expand

    p = operation_parameters(req)
    url = _stored_url(ctx, "ValueSet", req.id) or p.get("url")
    return FhirResponse(200, do_expand(url, p.get("filter"), p.get("offset", 0), p.get("count")))


# name, definition, the types it applies to: what the CapabilityStatement advertises.
OPERATIONS = (
    ("validate", f"{B}/OperationDefinition/Resource-validate", None),
    ("lookup", f"{B}/OperationDefinition/CodeSystem-lookup", ("CodeSystem",)),
    ("validate-code", f"{B}/OperationDefinition/CodeSystem-validate-code", ("CodeSystem",)),
    ("validate-code", f"{B}/OperationDefinition/ValueSet-validate-code", ("ValueSet",)),
    ("expand", f"{B}/OperationDefinition/ValueSet-expand", ("ValueSet",)),
    ("evaluate-measure", f"{B}/OperationDefinition/Measure-evaluate-measure", ("Measure",)),
)


def operations_for(resource_type: str) -> list[dict]:
    return [{"name": name, "definition": url} for name, url, types in OPERATIONS
            if types is None or resource_type in types]
