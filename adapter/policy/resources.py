"""What the policy reads from a resource: its kind, data types, owner organisation and level.

Owners, as the mappers write them: QuestionnaireResponse.subject, Task.for, and for a
MeasureReport the R5 cross-version `subject` extension (R4's subject cannot be an Organization).
"""
from __future__ import annotations

from mappings.names import first_extension, ref_ods

from .codes import CS_DATA_TYPE, CS_GRANULARITY, DATA_TYPES, ID_CLIENT, LEVELS, MEASURE_REPORT_SUBJECT

GOVERNED = ("QuestionnaireResponse", "Task", "MeasureReport")
# Public reference data: every authenticated caller may read it (policy "Data types, concretely").
PUBLIC = ("Organization", "Questionnaire", "Measure", "CodeSystem", "ValueSet", "StructureDefinition",
          "OperationDefinition", "SearchParameter")


def _labels(resource: dict, system: str, allowed: tuple[str, ...]) -> list[str]:
    security = (resource.get("meta") or {}).get("security") or []
    return [c.get("code") for c in security if isinstance(c, dict) and c.get("system") == system
            and c.get("code") in allowed]


def data_types(resource: dict) -> list[str]:
    return _labels(resource, CS_DATA_TYPE, DATA_TYPES)


def level_label(resource: dict) -> str | None:
    found = _labels(resource, CS_GRANULARITY, LEVELS)
    return found[0] if len(found) == 1 else None


def owner(resource: dict) -> str | None:
    """The ODS code of the organisation whose data a governed resource is."""
    rtype = resource.get("resourceType")
    if rtype == "QuestionnaireResponse":
        return ref_ods(resource.get("subject"))
    if rtype == "Task":
        return ref_ods(resource.get("for"))
    if rtype == "MeasureReport":
        return ref_ods((first_extension(resource, MEASURE_REPORT_SUBJECT) or {}).get("valueReference"))
    return None


def required_data_types(resource: dict) -> list[str]:
    """The data types a caller needs to see the resource: a Task needs Action Data only (its
    `impact-summary` label decides the masking of `output`; `indepth-action-summary` marks it as
    counted in that summary); anything else needs every data type it is labelled with."""
    labelled = data_types(resource)
    if resource.get("resourceType") == "Task":
        return ["actions"] if "actions" in labelled else []
    return labelled


def subscription_owner(resource: dict) -> str | None:
    """The client a Subscription belongs to: the `meta.tag` the server writes (…/Id/client), never
    one a client sent (adapter.subscriptions.admission replaces those)."""
    tags = (resource.get("meta") or {}).get("tag") or []
    owners = [t.get("code") for t in tags if isinstance(t, dict) and t.get("system") == ID_CLIENT]
    return owners[0] if len(owners) == 1 and isinstance(owners[0], str) else None
