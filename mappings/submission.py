"""submissions.ndjson <-> QuestionnaireResponse.

One group item per section of the form (so every section's score is visible, answered or not),
each carrying the `score` extension; the root carries the total. Answers are typed as the
form's items are (assessment.py). `authored` is `submitted`; an in-progress submission has no
`submitted`, so its `authored` is `started`. R4 has no element for the start of a completed
submission: `started` is kept only for in-progress ones (documented normalisation).
"""
from __future__ import annotations

import orjson

from .assessment import canonical, fhir_answers, native_answer, questions, value_problem
from .names import (CS_DATA_TYPE, EXT_SCORE, ID_SUBMISSION, QUESTIONNAIRE_URL, governed_labels, meta,
                    org_ref, ref_ods, security_codes)
from .organisation import expect_org, missing
from .scoring import enabled_questions, score_submission
from .staff import contained_staff, staff_of
from .types import Lookup, Problem, assessment_key

DATA_TYPE = {"global": "global-assessment", "indepth": "indepth-assessment"}


def score_extension(score, maximum) -> dict:
    return {"url": EXT_SCORE, "extension": [{"url": "score", "valueDecimal": score},
                                            {"url": "maximum", "valueDecimal": maximum}]}


def check_submission(rec: dict, lookup: Lookup) -> list[Problem]:
    problems: list[Problem] = []
    problem = expect_org(lookup, rec["practice"], ("practice",), "practice")
    problems += [problem] if problem else []
    if rec["status"] != "in-progress" and not rec.get("submitted"):
        problems.append(("submitted", f"a submission with status {rec['status']} needs its submitted time"))
    assessment = lookup("assessment", assessment_key(rec["assessment"], rec["assessment_version"]))
    if assessment is None:
        problems.append(("assessment_version", missing("assessment", f"{rec['assessment']} "
                                                                      f"version {rec['assessment_version']}")))
        return problems
    by_id = {q["id"]: q for q in questions(assessment)}
    answers: dict[str, object] = {}
    where: dict[str, int] = {}
    for i, answer in enumerate(rec["answers"]):
        question = by_id.get(answer["question"])
        if question is None:
            problems.append((f"answers[{i}].question", f"unknown question {answer['question']!r} in "
                                                       f"{rec['assessment']} version {rec['assessment_version']}"))
        elif answer["question"] in answers:
            problems.append((f"answers[{i}].question", f"question {answer['question']!r} is answered twice"))
        else:
            why = value_problem(question, answer["value"])
            if why:
                problems.append((f"answers[{i}].value", why))
            else:
                answers[answer["question"]] = answer["value"]
                where[answer["question"]] = i
    enabled = enabled_questions(assessment, answers)
    for question_id, i in where.items():
        if question_id not in enabled:
            condition = by_id[question_id]["enable_when"]
            problems.append((f"answers[{i}].question",
                             f"question {question_id!r} is not enabled: it is asked only when "
                             f"{condition['question']!r} is answered {orjson.dumps(condition['answer']).decode()}"))
    if rec["status"] in ("completed", "amended"):
        for question in questions(assessment):
            if question.get("required") and question["id"] in enabled and question["id"] not in answers:
                problems.append(("answers", f"required question {question['id']!r} is not answered"))
    return problems


def submission_to_questionnaire_response(rec: dict, source: str, lookup: Lookup) -> dict:
    assessment = lookup("assessment", assessment_key(rec["assessment"], rec["assessment_version"]))
    answers = {a["question"]: a["value"] for a in rec["answers"]}
    scores = score_submission(assessment, answers)
    items = []
    for section, section_score in zip(assessment["sections"], scores.sections):
        group: dict = {"extension": [score_extension(section_score.score, section_score.maximum)],
                       "linkId": section["id"], "text": section["title"]}
        answered = [{"linkId": q["id"], "text": q["text"], "answer": fhir_answers(q, answers[q["id"]])}
                    for q in section["questions"] if q["id"] in answers]
        if answered:
            group["item"] = answered
        items.append(group)
    body: dict = {"resourceType": "QuestionnaireResponse", "id": rec["id"],
                  "meta": meta("QuestionnaireResponse", source,
                               governed_labels([DATA_TYPE[assessment["kind"]]], "practice"))}
    author = rec.get("author")
    if author:
        contained, author_ref = contained_staff("author", rec["practice"], author.get("name"),
                                                author.get("role"), author.get("email"))
        body["contained"] = contained
    body["extension"] = [score_extension(scores.score, scores.maximum)]
    body.update({"identifier": {"system": ID_SUBMISSION, "value": rec["id"]},
                 "questionnaire": canonical(rec["assessment"], rec["assessment_version"]),
                 "status": rec["status"], "subject": org_ref(rec["practice"])})
    authored = rec.get("submitted")
    if rec["status"] == "in-progress":
        authored = rec.get("started") or authored
    if authored:
        body["authored"] = authored
    if author:
        body["author"] = author_ref
    body["item"] = items
    return body


def submission_header(qr: dict) -> dict:
    """The submission without answers and author: what an action's checks need."""
    questionnaire = qr.get("questionnaire", "")
    assessment, _, version = questionnaire[len(QUESTIONNAIRE_URL):].partition("|")
    ident = qr.get("identifier") or {}
    rec: dict = {"id": ident.get("value") if ident.get("system") == ID_SUBMISSION else qr.get("id"),
                 "assessment": assessment, "assessment_version": version,
                 "practice": ref_ods(qr.get("subject")), "status": qr.get("status")}
    if qr.get("authored"):
        rec["started" if qr.get("status") == "in-progress" else "submitted"] = qr["authored"]
    return rec


def fhir_to_submission(qr: dict, lookup: Lookup) -> dict:
    rec = submission_header(qr)
    assessment = lookup("assessment", assessment_key(rec["assessment"], rec["assessment_version"]))
    if assessment is None:
        raise ValueError(f"QuestionnaireResponse/{qr.get('id')}: its Questionnaire {qr.get('questionnaire')} "
                         "is not known")
    author = staff_of(qr, qr.get("author"))
    if author:
        author.pop("organisation", None)
        if author:
            rec["author"] = author
    by_id = {q["id"]: q for q in questions(assessment)}
    rec["answers"] = [{"question": item["linkId"], "value": native_answer(by_id[item["linkId"]], item["answer"])}
                      for group in qr.get("item") or [] for item in group.get("item") or [] if item.get("answer")]
    return rec


def is_indepth(qr: dict) -> bool:
    return "indepth-assessment" in security_codes(qr, CS_DATA_TYPE)


def is_hub_response(qr: dict) -> bool:
    return str(qr.get("questionnaire", "")).startswith(QUESTIONNAIRE_URL)


def retire_response(qr: dict) -> dict:
    return {**qr, "status": "entered-in-error"}
