"""Fixed names and codes of the mapping (fhir-conventions.md), and the small FHIR builders every
mapper shares. Nothing here is invented per mapper: one place, so the profiles agree with it."""
from __future__ import annotations

BASE = "https://fhir.dandthub.co.uk"
SD = f"{BASE}/StructureDefinition"
CS = f"{BASE}/CodeSystem"
ID = f"{BASE}/Id"

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_ROLE = "https://digital.nhs.uk/services/organisation-data-service/CodeSystem/ODSOrganisationRole"
HL7_ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
V3_CONF = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
V2_0136 = "http://terminology.hl7.org/CodeSystem/v2-0136"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
V3_DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
MEASURE_POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
PROVENANCE_AGENT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
MEASURE_REPORT_SUBJECT = "http://hl7.org/fhir/5.0/StructureDefinition/extension-MeasureReport.subject"

# Profiles (meta.profile)
PROFILE = {t: f"{SD}/dthub-{t.lower()}" for t in
           ("Organization", "Questionnaire", "QuestionnaireResponse", "Task", "Consent", "MeasureReport")}

# Extensions
EXT_SCORE = f"{SD}/score"
EXT_QUESTION_LINK_ID = f"{SD}/question-link-id"
EXT_PRACTICE_ICB = f"{SD}/practice-icb"
EXT_FEDERATION_MEMBERSHIP = f"{SD}/federation-membership"
EXT_LIST_SIZE = f"{SD}/list-size"
EXT_CONTRACT_STATUS = f"{SD}/contract-status"
EXT_AUDIENCE_ROLE = f"{SD}/audience-role"

# Our CodeSystems
CS_ASSESSMENT_KIND = f"{CS}/assessment-kind"
CS_ASSESSMENT_THEME = f"{CS}/assessment-theme"
CS_ASSESSMENT_SECTION = f"{CS}/assessment-section"
CS_ACTION_STATUS = f"{CS}/action-status"
CS_IMPACT_CATEGORY = f"{CS}/impact-category"
CS_USAGE_METRIC = f"{CS}/usage-metric"
CS_DATA_TYPE = f"{CS}/data-type"
CS_GRANULARITY = f"{CS}/granularity"
CS_AUDIENCE_ROLE = f"{CS}/audience-role"
CS_CONSENT_SCOPE = f"{CS}/consent-scope"
CS_CONSENT_POLICY = f"{CS}/consent-policy"
CS_CONTRACT_STATUS = f"{CS}/contract-status"

# Business identifier systems
ID_SUBMISSION = f"{ID}/submission"
ID_ACTION = f"{ID}/action"
ID_CONTRACT = f"{ID}/contract"
ID_USAGE = f"{ID}/usage"

QUESTIONNAIRE_URL = f"{BASE}/Questionnaire/"
MEASURE_URL = f"{BASE}/Measure/"

# The Hub's own organisation: a display-only reference (it has no ODS code of its own here).
HUB_REFERENCE = {"display": "D&T Hub"}


def coding(system: str, code: str, display: str | None = None) -> dict:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(system: str, code: str, display: str | None = None, text: str | None = None) -> dict:
    out: dict = {"coding": [coding(system, code, display)]}
    if text:
        out["text"] = text
    return out


def org_ref(ods: str) -> dict:
    """Every reference to an organisation carries `reference` and the ODS identifier."""
    return {"reference": f"Organization/{ods}", "identifier": {"system": ODS, "value": ods}}


def ref_ods(ref: dict | None) -> str | None:
    """The ODS code a reference to an organisation names (identifier first, then the literal)."""
    if not ref:
        return None
    ident = ref.get("identifier") or {}
    if ident.get("system") == ODS and ident.get("value"):
        return ident["value"]
    literal = ref.get("reference") or ""
    return literal.split("/", 1)[1] if literal.startswith("Organization/") else None


def ref_id(ref: dict | None, resource_type: str) -> str | None:
    literal = (ref or {}).get("reference") or ""
    prefix = resource_type + "/"
    return literal[len(prefix):].split("/", 1)[0] if literal.startswith(prefix) else None


CONFIDENTIALITY_NORMAL = coding(V3_CONF, "N", "normal")
CONFIDENTIALITY_RESTRICTED = coding(V3_CONF, "R", "restricted")


def meta(resource_type: str, source: str, security: list[dict]) -> dict:
    return {"source": source, "profile": [PROFILE[resource_type]], "security": security}


def governed_labels(data_types: list[str], granularity: str) -> list[dict]:
    """Security labels of governed data: data type(s), granularity, confidentiality R."""
    return ([coding(CS_DATA_TYPE, code) for code in data_types]
            + [coding(CS_GRANULARITY, granularity), CONFIDENTIALITY_RESTRICTED])


def security_codes(resource: dict, system: str) -> list[str]:
    return [c.get("code") for c in (resource.get("meta") or {}).get("security") or [] if c.get("system") == system]


def extension(resource: dict, url: str) -> list[dict]:
    return [e for e in resource.get("extension") or [] if e.get("url") == url]


def first_extension(resource: dict, url: str) -> dict | None:
    found = extension(resource, url)
    return found[0] if found else None


def codes_of(concept_: dict | None, system: str) -> list[str]:
    return [c.get("code") for c in (concept_ or {}).get("coding") or [] if c.get("system") == system]


def code_of(concept_: dict | None, system: str) -> str | None:
    found = codes_of(concept_, system)
    return found[0] if found else None


def drop_none(mapping: dict) -> dict:
    return {k: v for k, v in mapping.items() if v is not None}
