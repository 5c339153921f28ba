"""AccessRecord -> R4 AuditEvent, shaped after IHE Basic Audit Log Patterns (BALP).

Entities, and how a reader tells them apart (view.py and the SQL access filter rely on this):

* organisation the access is about: type audit-entity-type 3 "Organization", role object-role
  15 "Provider" (the practices, PCNs, ICBs and federations whose data it is; BALP's patient entity
  for an organisation), `what` = Organization/<ods> + ODS identifier. Only these carry a relative
  Organization reference, so `ref_ods(entity.what)` (policy/decisions.py) names exactly them.
* resource returned or refused: type 2 "System Object", role 4 "Domain Resource" (BALP data
  entity), `what.reference` ABSOLUTE (<fhir base>/Type/id): a returned Organization resource must
  not read as "about that organisation". Its owner ODS code is in `detail` "owner".
* deciding Consent: type 2, role 13 "Security Resource", `what` = Consent/<id>; a deciding
  policy rule: the same type and role, `name` = "rule:<name>" (a rule has no resource).
* the request: type 2, role 24 "Query" when there is a query string (BALP query entity, `query`
  = its base64), `description` = "<METHOD> <path>", `what.identifier` = the X-Request-Id, and a
  "count" detail for summarised requests.
"""
from __future__ import annotations

import base64

from mappings.names import CS_AUDIENCE_ROLE, ID, ODS, V3_ACT_REASON, coding, org_ref

from .record import AccessRecord

AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
SECURITY_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
ID_CLIENT = f"{ID}/client"
ID_REQUEST = f"{ID}/request"
OBSERVER = "D&T Hub FHIR adapter"

ENTITY_ORGANIZATION = coding(ENTITY_TYPE, "3", "Organization")
ENTITY_SYSTEM_OBJECT = coding(ENTITY_TYPE, "2", "System Object")
ROLE_PROVIDER = coding(OBJECT_ROLE, "15", "Provider")
ROLE_DOMAIN_RESOURCE = coding(OBJECT_ROLE, "4", "Domain Resource")
ROLE_SECURITY_RESOURCE = coding(OBJECT_ROLE, "13", "Security Resource")
ROLE_QUERY = coding(OBJECT_ROLE, "24", "Query")

PURPOSE_DISPLAY = {"HMARKT": "healthcare marketing", "HOPERAT": "healthcare operations",
                   "HQUALIMP": "health quality improvement"}
ROLE_DISPLAY = {"practice": "Practice", "pcn": "PCN", "federation": "GP federation", "icb": "ICB",
                "external": "External", "service": "Service"}

# R4 AuditEvent.action; searches, operations and bundles "execute" as in BALP's Query pattern.
ACTION = {"create": "C", "read": "R", "vread": "R", "history-instance": "R", "history-type": "R",
          "history-system": "R", "capabilities": "R", "update": "U", "patch": "U", "delete": "D",
          "search-type": "E", "search-system": "E", "batch": "E", "transaction": "E", "operation": "E",
          "login": "E"}


def outcome_code(status: int) -> str:
    """0 success (2xx, 3xx), 4 minor failure (4xx: the caller's), 8 serious failure (5xx: ours)."""
    if status < 400:
        return "0"
    return "4" if status < 500 else "8"


def _purpose(code: str) -> list[dict]:
    return [{"coding": [coding(V3_ACT_REASON, code, PURPOSE_DISPLAY.get(code))]}]


def _agents(rec: AccessRecord) -> list[dict]:
    client: dict = {"type": {"coding": [coding(PARTICIPATION_TYPE, "IRCP", "information recipient")]},
                    "requestor": True}
    if rec.client_id:
        client["who"] = {"identifier": {"system": ID_CLIENT, "value": rec.client_id}, "display": rec.client_id}
    else:
        client["who"] = {"display": "unauthenticated"}
    if rec.role:
        client["role"] = [{"coding": [coding(CS_AUDIENCE_ROLE, rec.role, ROLE_DISPLAY.get(rec.role))]}]
    if rec.source:
        client["network"] = {"address": rec.source, "type": "2"}  # network-type 2: IP address
    if rec.purpose:
        client["purposeOfUse"] = _purpose(rec.purpose)
    agents = [client]
    if rec.org:
        agents.append({"who": org_ref(rec.org), "requestor": False})  # on whose behalf the client acts
    return agents


def _organisation_entity(ods: str) -> dict:
    return {"what": org_ref(ods), "type": ENTITY_ORGANIZATION, "role": ROLE_PROVIDER}


def _resource_entity(reference: str, owner: str | None, fhir_base: str) -> dict:
    entity: dict = {"what": {"reference": f"{fhir_base}/{reference}"}, "type": ENTITY_SYSTEM_OBJECT,
                    "role": ROLE_DOMAIN_RESOURCE}
    if owner:
        entity["detail"] = [{"type": "owner", "valueString": owner}]
    return entity


def _deciding_entity(source: str) -> dict:
    entity: dict = {"type": ENTITY_SYSTEM_OBJECT, "role": ROLE_SECURITY_RESOURCE}
    if source.startswith("Consent/"):
        entity["what"] = {"reference": source}
    else:
        entity["name"] = source
    return entity


def _request_entity(rec: AccessRecord) -> dict:
    entity: dict = {"type": ENTITY_SYSTEM_OBJECT, "description": f"{rec.method} {rec.path}"}
    if rec.request_id:
        entity["what"] = {"identifier": {"system": ID_REQUEST, "value": rec.request_id}}
    if rec.query:
        entity["role"] = ROLE_QUERY
        entity["query"] = base64.b64encode(rec.query.encode()).decode("ascii")
    if rec.count > 1:
        entity["detail"] = [{"type": "count", "valueString": str(rec.count)}]
    return entity


def to_audit_event(record: AccessRecord, fhir_base: str) -> dict:
    """A valid R4 AuditEvent for the record; `fhir_base` makes resource references absolute."""
    fhir_base = fhir_base.rstrip("/")
    login = record.interaction == "login"
    event: dict = {
        "resourceType": "AuditEvent",
        "id": record.id,
        # A token request is not a FHIR REST interaction: DICOM's User Authentication / Login.
        "type": (coding(DCM, "110114", "User Authentication") if login else coding(AUDIT_EVENT_TYPE, "rest",
                                                                                    "RESTful Operation")),
        "subtype": [coding(DCM, "110122", "Login") if login else coding(RESTFUL_INTERACTION, record.interaction)],
        "action": ACTION.get(record.interaction, "E"),
        "recorded": record.recorded,
        "outcome": outcome_code(record.status),
    }
    desc = record.outcome_desc or f"HTTP {record.status}"
    if record.count > 1:
        desc = f"{desc} ({record.count} similar requests)"
    event["outcomeDesc"] = desc
    if record.purpose:
        event["purposeOfEvent"] = _purpose(record.purpose)
    event["agent"] = _agents(record)
    event["source"] = {"observer": {"display": OBSERVER}, "type": [coding(SECURITY_SOURCE_TYPE, "4",
                                                                           "Application Server")]}
    entities = [_organisation_entity(ods) for ods in dict.fromkeys(record.organisations)]
    entities += [_resource_entity(ref, owner, fhir_base) for ref, owner in dict.fromkeys(record.resources)]
    entities += [_deciding_entity(src) for src in dict.fromkeys(record.deciding)]
    entities.append(_request_entity(record))
    event["entity"] = entities
    return event


# -- reading events back (view.py, the SQL access filter) -----------------------------------------

def _has(entity: dict, key: str, want: dict) -> bool:
    value = entity.get(key)
    return isinstance(value, dict) and value.get("system") == want["system"] and value.get("code") == want["code"]


def is_organisation_entity(entity: dict) -> bool:
    return _has(entity, "type", ENTITY_ORGANIZATION)


def is_resource_entity(entity: dict) -> bool:
    return _has(entity, "role", ROLE_DOMAIN_RESOURCE)


def is_security_entity(entity: dict) -> bool:
    return _has(entity, "role", ROLE_SECURITY_RESOURCE)


def entity_ods(entity: dict) -> str | None:
    ident = (entity.get("what") or {}).get("identifier") or {}
    return ident.get("value") if ident.get("system") == ODS else None


def entity_owner(entity: dict) -> str | None:
    return next((d.get("valueString") for d in entity.get("detail") or []
                 if isinstance(d, dict) and d.get("type") == "owner"), None)


def entity_organisations(event: dict) -> set[str]:
    """ODS codes of the organisations the event is about (its organisation entities)."""
    return {ods for e in event.get("entity") or [] if isinstance(e, dict) and is_organisation_entity(e)
            for ods in [entity_ods(e)] if ods}
