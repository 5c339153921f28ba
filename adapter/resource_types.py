"""Which resource types the server serves, and what may be done to each."""
from __future__ import annotations

import re

# Governed and operational types clients may write (subject to auth and policy).
WRITABLE = ("Organization", "Questionnaire", "QuestionnaireResponse", "Task", "Consent",
            "Measure", "MeasureReport", "Provenance", "Subscription")
# An audit trail only grows: AuditEvents may be recorded, never changed or removed.
APPEND_ONLY = ("AuditEvent",)
# Conformance and terminology resources ship with the adapter and change only with a release.
READ_ONLY = ("CodeSystem", "ValueSet", "StructureDefinition", "OperationDefinition", "SearchParameter")
SERVED = WRITABLE + APPEND_ONLY + READ_ONLY

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def is_served(resource_type: str) -> bool:
    return resource_type in SERVED


def allows(resource_type: str, interaction: str) -> bool:
    if interaction in ("read", "vread", "history-instance", "history-type", "search-type", "operation"):
        return resource_type in SERVED
    if interaction == "create":
        return resource_type in WRITABLE or resource_type in APPEND_ONLY
    if interaction in ("update", "delete"):
        return resource_type in WRITABLE
    return False
