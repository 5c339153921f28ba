"""Security labels on governed resources are the server's (data-use-policy.md; issue: "labels or
tags sent by a client never widen access"). A written QuestionnaireResponse, Task or
MeasureReport loses whatever data-type, granularity, confidentiality or handling-caveat labels
the client sent and gets the ones its content implies, as the mappers would have set them:

- QuestionnaireResponse: the kind of its Hub form (global / in-depth); a response to a form
  that is not a stored Hub form gets no data-type label, so only service clients see it;
- Task: `actions` and `impact-summary` (conventions), plus `indepth-action-summary` when its
  focus is a stored in-depth response;
- MeasureReport: the data type is the Measure it reports (`…/Measure/<data type>`), the
  granularity the kind of the organisation it is about.
Other labels a client sends (refrains, for instance) are kept: they narrow, never widen.
"""
from __future__ import annotations

from typing import Callable

from mappings.names import (CONFIDENTIALITY_RESTRICTED, CS_ASSESSMENT_KIND, CS_DATA_TYPE, CS_GRANULARITY, MEASURE_URL,
                            QUESTIONNAIRE_URL, V3_CONF, coding, ref_id, security_codes)
from mappings.organisation import kind_of
from mappings.submission import DATA_TYPE

from ..policy.codes import DATA_TYPES, V3_OBSERVATION_VALUE
from ..policy.resources import GOVERNED, owner

# Systems whose codes only the server sets on governed data.
SERVER_SYSTEMS = frozenset({CS_DATA_TYPE, CS_GRANULARITY, V3_CONF, V3_OBSERVATION_VALUE})
GRANULARITY_OF_KIND = {"practice": "practice", "pcn": "pcn", "icb": "icb", "federation": "pcn"}

# (resource type, id) -> the stored resource, or None.
Lookup = Callable[[str, str], dict | None]


def _questionnaire_kind(qr: dict, lookup: Lookup) -> str | None:
    canonical = qr.get("questionnaire") or ""
    url, _, version = canonical.partition("|")
    if not url.startswith(QUESTIONNAIRE_URL) or not version:
        return None
    form = lookup("Questionnaire", f"{url[len(QUESTIONNAIRE_URL):]}-{version}")
    if not form:
        return None
    return next((c.get("code") for c in form.get("code") or [] if c.get("system") == CS_ASSESSMENT_KIND), None)


def _task_types(task: dict, lookup: Lookup) -> list[str]:
    types = ["actions", "impact-summary"]
    focus_id = ref_id(task.get("focus"), "QuestionnaireResponse")
    focus = lookup("QuestionnaireResponse", focus_id) if focus_id else None
    if focus and "indepth-assessment" in security_codes(focus, CS_DATA_TYPE):
        types.append("indepth-action-summary")
    return types


def _report_labels(report: dict, lookup: Lookup) -> tuple[list[str], str | None]:
    measure = (report.get("measure") or "").partition("|")[0]
    data_type = measure[len(MEASURE_URL):] if measure.startswith(MEASURE_URL) else None
    if data_type not in DATA_TYPES:
        return [], None
    ods = owner(report)
    org = lookup("Organization", ods) if ods else None
    return [data_type], GRANULARITY_OF_KIND.get(kind_of(org)) if org else None


def server_labels(resource: dict, lookup: Lookup) -> dict:
    """A copy of `resource` carrying the server's labels (unchanged when it is not governed)."""
    rtype = resource.get("resourceType")
    if rtype not in GOVERNED:
        return resource
    granularity: str | None = "practice"
    if rtype == "QuestionnaireResponse":
        kind = _questionnaire_kind(resource, lookup)
        types = [DATA_TYPE[kind]] if kind in DATA_TYPE else []
    elif rtype == "Task":
        types = _task_types(resource, lookup)
    else:
        types, granularity = _report_labels(resource, lookup)
    meta = dict(resource.get("meta") or {})
    kept = [c for c in meta.get("security") or [] if not (isinstance(c, dict) and c.get("system") in SERVER_SYSTEMS)]
    labels = [coding(CS_DATA_TYPE, t) for t in types]
    if types and granularity:
        labels.append(coding(CS_GRANULARITY, granularity))
    meta["security"] = labels + [CONFIDENTIALITY_RESTRICTED] + kept
    return dict(resource, meta=meta)
