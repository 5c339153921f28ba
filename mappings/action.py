"""actions.ndjson <-> Task.

status: proposed -> requested, agreed -> accepted, the others the same; the Hub status also in
`businessStatus` (`action-status`), which the inverse reads. intent `plan`. title -> `code.text`
(R4 Task has no title), description -> `description`, created -> `authoredOn`, due ->
`restriction.period.end`, completed -> `executionPeriod.end`, notes -> `note`. The submission
is both `focus` and `reasonReference` (the latter with the `question-link-id` extension when
the action names a question). Owner: the organisation itself, or, when a person is named, a
contained PractitionerRole of that organisation. Impact -> one `output`: type = the
`impact-category` coding with the summary as text; value -> valueQuantity (value, unit); an
impact without value or unit has the category coding as valueCodeableConcept (output.value[x]
is mandatory).
"""
from __future__ import annotations

from .names import (CS_ACTION_STATUS, CS_IMPACT_CATEGORY, EXT_QUESTION_LINK_ID, ID_ACTION, code_of, concept,
                    first_extension, governed_labels, meta, org_ref, ref_id, ref_ods)
from .organisation import expect_org, missing
from .staff import contained_staff, staff_of
from .types import Lookup, Problem, assessment_key

TASK_STATUS = {"proposed": "requested", "agreed": "accepted", "in-progress": "in-progress",
               "on-hold": "on-hold", "completed": "completed", "cancelled": "cancelled"}
_HUB_STATUS = {v: k for k, v in TASK_STATUS.items()}


def _assessment_of_submission(rec: dict, lookup: Lookup) -> tuple[dict | None, dict | None]:
    submission = lookup("submission", rec["submission"]) if rec.get("submission") else None
    if submission is None:
        return None, None
    return submission, lookup("assessment", assessment_key(submission["assessment"], submission["assessment_version"]))


def check_action(rec: dict, lookup: Lookup) -> list[Problem]:
    problems: list[Problem] = []
    practice_problem = expect_org(lookup, rec["practice"], ("practice",), "practice")
    problems += [practice_problem] if practice_problem else []
    if rec.get("submission"):
        submission, assessment = _assessment_of_submission(rec, lookup)
        if submission is None:
            problems.append(("submission", missing("submission", rec["submission"])))
        else:
            if submission["practice"] != rec["practice"]:
                problems.append(("submission", f"submission {rec['submission']} is of practice "
                                               f"{submission['practice']}, not {rec['practice']}"))
            known = {q["id"] for s in (assessment or {}).get("sections", []) for q in s["questions"]}
            if rec.get("question") and rec["question"] not in known:
                problems.append(("question", f"unknown question {rec['question']!r} in {submission['assessment']} "
                                             f"version {submission['assessment_version']}"))
    elif rec.get("question"):
        problems.append(("question", "a question is named only together with its submission"))
    if rec["status"] == "completed" and not rec.get("completed"):
        problems.append(("completed", "a completed action needs its completed time"))
    owner = (rec.get("owner") or {}).get("organisation")
    if owner and owner != rec["practice"] and not practice_problem:
        practice = lookup("organisation", rec["practice"]) or {}
        if owner not in (practice.get("parent"), practice.get("icb")):
            problems.append(("owner.organisation", f"{owner} is not the practice, its PCN or its ICB"))
    return problems


def _impact_output(impact: dict) -> dict:
    output: dict = {"type": concept(CS_IMPACT_CATEGORY, impact["category"], text=impact.get("summary"))}
    quantity = {k: impact[k] for k in ("value", "unit") if impact.get(k) is not None}
    if quantity:
        output["valueQuantity"] = quantity
    else:
        output["valueCodeableConcept"] = concept(CS_IMPACT_CATEGORY, impact["category"])
    return output


def action_to_task(rec: dict, source: str, lookup: Lookup) -> dict:
    _submission, assessment = _assessment_of_submission(rec, lookup)
    data_types = ["actions", "impact-summary"]
    if assessment is not None and assessment["kind"] == "indepth":
        data_types.append("indepth-action-summary")
    body: dict = {"resourceType": "Task", "id": rec["id"],
                  "meta": meta("Task", source, governed_labels(data_types, "practice"))}
    owner = rec.get("owner")
    owner_ref = None
    if owner:
        if owner.get("name") or owner.get("role"):
            body["contained"], owner_ref = contained_staff("owner", owner["organisation"], owner.get("name"),
                                                           owner.get("role"))
        else:
            owner_ref = org_ref(owner["organisation"])
    body.update({"identifier": [{"system": ID_ACTION, "value": rec["id"]}], "status": TASK_STATUS[rec["status"]],
                 "businessStatus": concept(CS_ACTION_STATUS, rec["status"]), "intent": "plan",
                 "priority": rec.get("priority", "routine"), "code": {"text": rec["title"]}})
    if rec.get("description"):
        body["description"] = rec["description"]
    submission_ref = {"reference": f"QuestionnaireResponse/{rec['submission']}"} if rec.get("submission") else None
    if submission_ref:
        body["focus"] = submission_ref
    body["for"] = org_ref(rec["practice"])
    if rec.get("completed"):
        body["executionPeriod"] = {"end": rec["completed"]}
    body["authoredOn"] = rec["created"]
    if owner_ref:
        body["owner"] = owner_ref
    if submission_ref:
        reason = dict(submission_ref)
        if rec.get("question"):
            reason = {"extension": [{"url": EXT_QUESTION_LINK_ID, "valueString": rec["question"]}], **reason}
        body["reasonReference"] = reason
    if rec.get("notes"):
        body["note"] = [{**({"time": n["at"]} if n.get("at") else {}), "text": n["text"]} for n in rec["notes"]]
    if rec.get("due"):
        body["restriction"] = {"period": {"end": rec["due"]}}
    if rec.get("impact"):
        body["output"] = [_impact_output(rec["impact"])]
    return body


def fhir_to_action(task: dict, _lookup: Lookup | None = None) -> dict:
    ident = next((i["value"] for i in task.get("identifier") or [] if i.get("system") == ID_ACTION), task.get("id"))
    rec: dict = {"id": ident, "practice": ref_ods(task.get("for"))}
    submission = ref_id(task.get("focus"), "QuestionnaireResponse")
    if submission:
        rec["submission"] = submission
    question = first_extension(task.get("reasonReference") or {}, EXT_QUESTION_LINK_ID)
    if question:
        rec["question"] = question["valueString"]
    rec["title"] = (task.get("code") or {}).get("text")
    if task.get("description"):
        rec["description"] = task["description"]
    rec["status"] = code_of(task.get("businessStatus"), CS_ACTION_STATUS) or _HUB_STATUS.get(task.get("status"))
    rec["priority"] = task.get("priority", "routine")
    owner_ref = task.get("owner")
    if owner_ref:
        owner = staff_of(task, owner_ref) or {"organisation": ref_ods(owner_ref)}
        owner.pop("email", None)
        rec["owner"] = owner
    rec["created"] = task.get("authoredOn")
    due = ((task.get("restriction") or {}).get("period") or {}).get("end")
    if due:
        rec["due"] = due
    completed = (task.get("executionPeriod") or {}).get("end")
    if completed:
        rec["completed"] = completed
    if task.get("output"):
        output = task["output"][0]
        impact: dict = {"category": code_of(output.get("type"), CS_IMPACT_CATEGORY)}
        if (output.get("type") or {}).get("text"):
            impact["summary"] = output["type"]["text"]
        impact.update({k: v for k, v in (output.get("valueQuantity") or {}).items() if k in ("value", "unit")})
        rec["impact"] = impact
    if task.get("note"):
        rec["notes"] = [{**({"at": n["time"]} if n.get("time") else {}), "text": n["text"]} for n in task["note"]]
    return rec


def is_hub_task(task: dict) -> bool:
    return any(i.get("system") == ID_ACTION for i in task.get("identifier") or [])


def retire_task(task: dict) -> dict:
    return {**task, "status": "entered-in-error"}
