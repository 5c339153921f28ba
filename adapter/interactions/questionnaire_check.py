"""A QuestionnaireResponse written over FHIR is checked against its Questionnaire, with the very
rules an imported Hub submission meets (mappings.submission.check_submission): item exists, answer
type, answer option, enableWhen, required when completed. So what an EHR-side integrator posts
is a valid Hub submission, and `dthub export` writes it out as one.
"""
from __future__ import annotations

from mappings.assessment import fhir_to_assessment, questionnaire_id
from mappings.names import QUESTIONNAIRE_URL
from mappings.organisation import fhir_to_organisation
from mappings.submission import check_submission, fhir_to_submission
from mappings.types import assessment_key

from ..outcomes import Issue
from ..storage import Repository


def _lookup(repo: Repository):
    def lookup(kind: str, key: str):
        if kind == "organisation":
            stored = repo.read("Organization", key)
            return fhir_to_organisation(stored.resource()) if stored and not stored.deleted else None
        if kind == "assessment":
            assessment_id, _, version = key.partition("|")
            stored = repo.read("Questionnaire", questionnaire_id(assessment_id, version)) if version else None
            return fhir_to_assessment(stored.resource()) if stored and not stored.deleted else None
        return None

    return lookup


# The FHIR answer types each Hub question type takes (scored booleans are Y/N choices: conventions).
_ANSWER_KEYS = {"boolean": ("valueBoolean", "valueCoding"), "choice": ("valueCoding",),
                "multi-choice": ("valueCoding",), "integer": ("valueInteger",),
                "decimal": ("valueDecimal", "valueInteger"), "text": ("valueString",), "date": ("valueDate",)}


def _error(text: str, where: str = "QuestionnaireResponse.item") -> Issue:
    return Issue("error", "invalid", text, (where,))


def check_against_questionnaire(repo: Repository, qr: dict) -> list[Issue]:
    canonical = qr.get("questionnaire") or ""
    if not canonical.startswith(QUESTIONNAIRE_URL):
        return []  # not one of the Hub's forms: R4 and profile rules only
    lookup = _lookup(repo)
    assessment_id, _, version = canonical[len(QUESTIONNAIRE_URL):].partition("|")
    assessment = lookup("assessment", assessment_key(assessment_id, version))
    if assessment is None:
        return [_error(f"The Questionnaire {canonical} is not known here", "QuestionnaireResponse.questionnaire")]
    sections = {s["id"]: {q["id"]: q for q in s["questions"]} for s in assessment["sections"]}
    issues = []
    for i, group in enumerate(qr.get("item") or []):
        where = f"QuestionnaireResponse.item[{i}]"
        section = sections.get(group.get("linkId"))
        if section is None:
            issues.append(_error(f"item {group.get('linkId')!r} is not a section of {canonical}", where))
            continue
        for j, item in enumerate(group.get("item") or []):
            question = section.get(item.get("linkId"))
            if question is None:
                issues.append(_error(f"item {item.get('linkId')!r} is not a question of section "
                                     f"{group['linkId']!r}", f"{where}.item[{j}]"))
                continue
            wanted = _ANSWER_KEYS.get(question["type"], ())
            for answer in item.get("answer") or []:
                given = next((k for k in answer if k.startswith("value")), None)
                if given not in wanted:
                    issues.append(_error(f"question {question['id']!r} asks for a {question['type']} answer, "
                                         f"not {given}", f"{where}.item[{j}].answer"))
    if issues:
        return issues
    try:
        submission = fhir_to_submission(qr, lookup)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return [_error(f"The answers do not fit {canonical}: {exc}")]
    return [_error(f"{field}: {reason}") for field, reason in check_submission(submission, lookup)]
