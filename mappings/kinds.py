"""The six export files, in the order they are applied, with everything the importer and the
exporter need to know about each: its schema, checks, mappers both ways, the resource type and
id, which stored resources belong to it, and how one is retired under `mode: full`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import action, assessment, contract, organisation, submission, usage
from .types import Lookup, Problem


@dataclass(frozen=True)
class FileKind:
    file: str
    kind: str  # the schema name (schemas.SCHEMAS)
    resource_type: str
    key: Callable[[dict], str]  # the record's key, as the report names it
    resource_id: Callable[[dict], str]
    check: Callable[[dict, Lookup], list[Problem]]
    to_fhir: Callable[[dict, str, Lookup], dict]
    from_fhir: Callable[[dict, Lookup], dict]
    is_ours: Callable[[dict], bool]  # a stored resource this file kind manages
    retire: Callable[[dict], dict] | None  # the retired body; None = delete


def _raw_key(*names: str) -> Callable[[dict], str]:
    return lambda record: "|".join(str(record.get(n)) for n in names) if len(names) > 1 else str(record.get(names[0]))


FILE_KINDS: tuple[FileKind, ...] = (
    FileKind("organisations.ndjson", "organisation", "Organization", _raw_key("ods_code"),
             lambda r: r["ods_code"], organisation.check_organisation, organisation.organisation_to_fhir,
             organisation.fhir_to_organisation, organisation.is_hub_organisation, organisation.retire_organisation),
    FileKind("assessments.ndjson", "assessment", "Questionnaire", _raw_key("id", "version"),
             lambda r: assessment.questionnaire_id(r["id"], r["version"]), assessment.check_assessment,
             assessment.assessment_to_questionnaire, assessment.fhir_to_assessment,
             assessment.is_hub_questionnaire, assessment.retire_questionnaire),
    FileKind("submissions.ndjson", "submission", "QuestionnaireResponse", _raw_key("id"), lambda r: r["id"],
             submission.check_submission, submission.submission_to_questionnaire_response,
             submission.fhir_to_submission, submission.is_hub_response, submission.retire_response),
    FileKind("actions.ndjson", "action", "Task", _raw_key("id"), lambda r: r["id"], action.check_action,
             action.action_to_task, action.fhir_to_action, action.is_hub_task, action.retire_task),
    FileKind("usage.ndjson", "usage", "MeasureReport", _raw_key("organisation", "period"),
             lambda r: usage.usage_id(r["organisation"], r["period"]), usage.check_usage,
             usage.usage_to_measure_report, usage.fhir_to_usage, usage.is_hub_usage, None),
    FileKind("contracts.ndjson", "contract", "Consent", _raw_key("id"), lambda r: r["id"], contract.check_contract,
             contract.contract_to_consent, contract.fhir_to_contract, contract.is_hub_contract,
             contract.retire_consent),
)
BY_FILE = {k.file: k for k in FILE_KINDS}

# Organisations refer to each other (a practice to its PCN and ICB, a PCN to its ICB, ...), so
# organisations.ndjson is applied in passes by kind: a file sorted by ODS code (practices "A…"
# before ICBs "Q…") still resolves every reference.
ORGANISATION_PASSES = ("icb", "pcn", "federation", "practice")
