"""The CapabilityStatement: built from what the server actually registers, so it cannot drift."""
from __future__ import annotations

from .. import __version__
from ..resource_types import SERVED, allows
from ..search.parameters import params_for, reference_params
from .context import Context
from .operations import operations_for
from .request import FhirRequest, FhirResponse

_TYPE_INTERACTIONS = ("read", "vread", "update", "delete", "history-instance", "history-type", "create",
                      "search-type")
_HL7 = "http://hl7.org/fhir/SearchParameter/"
_SUBSCRIPTION_DOC = ("R4 Subscriptions, channel rest-hook only: criteria `Type?params` of a writable type (our search "
                     "parameters); endpoints on the operator's allowed hosts; no payload = an empty POST, "
                     "payload application/fhir+json or +xml = a PUT of the resource, as the subscriber may see it, "
                     "to [endpoint]/[type]/[id]. A Subscription is visible only to the client that created it.")


def _search_params(resource_type: str) -> list[dict]:
    out = [{"name": "_id", "definition": f"{_HL7}Resource-id", "type": "token"},
           {"name": "_lastUpdated", "definition": f"{_HL7}Resource-lastUpdated", "type": "date"}]
    for param in params_for(resource_type).values():
        out.append({"name": param.name, "definition": param.definition, "type": param.type})
    return out


def capability_statement(ctx: Context) -> dict:
    resources = []
    for resource_type in SERVED:
        interactions = [{"code": code} for code in _TYPE_INTERACTIONS if allows(resource_type, code)]
        resources.append({
            "type": resource_type,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
            "interaction": interactions,
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": allows(resource_type, "update"),
            "conditionalCreate": allows(resource_type, "create"),
            "conditionalRead": "not-supported",
            "conditionalUpdate": allows(resource_type, "update"),
            "conditionalDelete": "single" if allows(resource_type, "delete") else "not-supported",
            "searchInclude": ["*"] + [f"{resource_type}:{p}" for p in reference_params(resource_type)],
            "searchRevInclude": ["*"] + [f"{source}:{p}" for source in SERVED for p, ref in reference_params(source).items()
                                         if not ref.targets or resource_type in ref.targets],
            "searchParam": _search_params(resource_type),
            "operation": operations_for(resource_type),
            **({"documentation": _SUBSCRIPTION_DOC} if resource_type == "Subscription" else {}),
        })
    return {
        "resourceType": "CapabilityStatement",
        "id": "dthub-fhir-adapter",
        "url": f"{ctx.fhir_base}/metadata",
        "version": __version__,
        "name": "DTHubFHIRAdapter",
        "title": "D&T Hub FHIR adapter",
        "status": "active",
        "experimental": False,
        "date": "2026-11-22",
        "publisher": "D&T Hub",
        "kind": "instance",
        "software": {"name": "dthub-fhir-adapter", "version": __version__},
        "implementation": {"description": "D&T Hub FHIR R4 endpoint", "url": ctx.fhir_base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "application/fhir+xml", "json", "xml"],
        "instantiates": ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"],
        "rest": [{
            "mode": "server",
            "documentation": _REST_DOC,
            "security": {
                "cors": False,
                "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                         "code": "SMART-on-FHIR"}]}],
                "description": "SMART Backend Services: client_credentials with a private_key_jwt assertion; "
                               "send the access token as 'Authorization: Bearer <token>'.",
                "extension": [{"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                               "extension": [{"url": "token", "valueUri": ctx.config.token_url}]}],
            },
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "history-system"}],
            "operation": [{"name": "policy-matrix",
                           "definition": "https://fhir.dandthub.co.uk/OperationDefinition/policy-matrix"},
                          {"name": "export", "definition": "https://fhir.dandthub.co.uk/OperationDefinition/export"}],
        }],
    }


# How an ICS takes data in bulk, hears of changes, and has it pushed: the last is a client of the
# ICS's server rather than an interaction of this one, so it is described here and not listed.
_REST_DOC = ("ICS integration: system-level Bulk Data v2 `$export` (area by the `organization` parameter); "
             "R4 Subscriptions with the rest-hook channel (endpoints on configured hosts only); and push to a "
             "shared-record FHIR server (`dthub push`: a registered client's view sent as transaction Bundles "
             "of conditional updates, with SMART Backend Services at the target).")


def smart_configuration(config) -> dict:
    """SMART App Launch discovery document (.well-known/smart-configuration) for backend services."""
    return {
        "issuer": config.public_base,
        "token_endpoint": config.token_url,
        "jwks_uri": f"{config.public_base}/auth/jwks",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(config.assertion_algs),
        "scopes_supported": ["system/*.rs", "system/*.cruds", "system/*.read", "system/*.write"]
                            + [f"system/{t}.cruds" for t in SERVED],
        "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"],
    }


def capabilities(ctx: Context, req: FhirRequest) -> FhirResponse:
    return FhirResponse(200, capability_statement(ctx))
