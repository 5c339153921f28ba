"""assessments.ndjson <-> Questionnaire, and the typing of answers that submissions share.

Form: one `group` item per section (linkId = section id, code from `assessment-section`), one
item per question (linkId = question id). Question types: boolean -> `boolean`, or, when scored,
`choice` with the two v2-0136 options Y/N (R4 forbids answerOption on boolean items, que-5);
choice -> `choice`; multi-choice -> `choice` with `repeats: true`; integer, decimal, date ->
the same; text -> `text`. Option codes are local to their question: `valueCoding` with the
code and the label as display and no system (the inverse tells a scored boolean by the v2-0136
system of its options). Scores: the core `ordinalValue` extension on each answerOption.
enable_when -> one enableWhen with operator `=` and the answer typed as the controlling item is.
"""
from __future__ import annotations

from .names import (CONFIDENTIALITY_NORMAL, CS_ASSESSMENT_KIND, CS_ASSESSMENT_SECTION, CS_ASSESSMENT_THEME,
                    ORDINAL_VALUE, QUESTIONNAIRE_URL, V2_0136, code_of, coding, meta)
from .schemas import MAX_INT, is_date
from .types import Lookup, Problem, assessment_key

YES = coding(V2_0136, "Y", "Yes")
NO = coding(V2_0136, "N", "No")
_SIMPLE_TYPES = {"integer": ("integer", "valueInteger"), "decimal": ("decimal", "valueDecimal"),
                 "text": ("text", "valueString"), "date": ("date", "valueDate")}
_FROM_SIMPLE = {"integer": "integer", "decimal": "decimal", "text": "text", "string": "text", "date": "date"}


def questionnaire_id(assessment_id: str, version: str) -> str:
    return f"{assessment_id}-{version}"


def canonical(assessment_id: str, version: str) -> str:
    return f"{QUESTIONNAIRE_URL}{assessment_id}|{version}"


def questions(assessment: dict):
    for section in assessment["sections"]:
        yield from section["questions"]


# -- answers, shared with submission.py ------------------------------------------------------
def value_problem(question: dict, value) -> str | None:
    """Why `value` is no answer to `question` (None when it is one)."""
    kind = question["type"]
    codes = [o["code"] for o in question.get("options") or []]
    if kind == "boolean":
        return None if type(value) is bool else "wrong type: expected true or false"
    if kind == "choice":
        if type(value) is not str:
            return "wrong type: expected one option code (a string)"
        return None if value in codes else f"unknown option code {value!r}"
    if kind == "multi-choice":
        if type(value) is not list or any(type(v) is not str for v in value):
            return "wrong type: expected a list of option codes"
        unknown = [v for v in value if v not in codes]
        if unknown:
            return f"unknown option code {unknown[0]!r}"
        return "an option code is chosen twice" if len(set(value)) != len(value) else None
    if kind == "integer":
        ok = type(value) is int and -MAX_INT - 1 <= value <= MAX_INT
        return None if ok else "wrong type: expected an integer"
    if kind == "decimal":
        return None if type(value) in (int, float) else "wrong type: expected a number"
    if kind == "text":
        return None if type(value) is str and value.strip() else "wrong type: expected a non-empty string"
    if kind == "date":
        return None if is_date(value) else "wrong type: expected a date YYYY-MM-DD"
    return f"unknown question type {kind!r}"


def _is_scored_boolean(question: dict) -> bool:
    return question["type"] == "boolean" and bool(question.get("scores"))


def _option_coding(question: dict, code: str) -> dict:
    label = next((o["label"] for o in question.get("options") or [] if o["code"] == code), None)
    return {"code": code, "display": label} if label else {"code": code}


def fhir_answers(question: dict, value) -> list[dict]:
    """The QuestionnaireResponse `answer` list for one native answer."""
    kind = question["type"]
    if kind == "boolean":
        return [{"valueCoding": YES if value else NO}] if _is_scored_boolean(question) else [{"valueBoolean": value}]
    if kind == "choice":
        return [{"valueCoding": _option_coding(question, value)}]
    if kind == "multi-choice":
        return [{"valueCoding": _option_coding(question, code)} for code in value]
    return [{_SIMPLE_TYPES[kind][1]: value}]


def native_answer(question: dict, answers: list[dict]):
    """The native value of a QuestionnaireResponse item's answers (inverse of `fhir_answers`)."""
    kind = question["type"]
    if kind == "multi-choice":
        return [a["valueCoding"]["code"] for a in answers]
    answer = answers[0]
    if kind == "boolean":
        if "valueBoolean" in answer:
            return answer["valueBoolean"]
        return answer["valueCoding"]["code"] == "Y"
    if kind == "choice":
        return answer["valueCoding"]["code"]
    return answer[_SIMPLE_TYPES[kind][1]]


def _enable_when_answer(controlling: dict, expected) -> dict:
    if controlling["type"] == "boolean":
        if _is_scored_boolean(controlling):
            return {"answerCoding": {"system": V2_0136, "code": "Y" if expected else "N"}}
        return {"answerBoolean": expected}
    if controlling["type"] in ("choice", "multi-choice"):
        return {"answerCoding": {"code": expected}}
    key = {"integer": "answerInteger", "decimal": "answerDecimal", "text": "answerString", "date": "answerDate"}
    return {key[controlling["type"]]: expected}


def _native_enable_when(condition: dict) -> dict:
    for key, value in condition.items():
        if key == "answerCoding":
            answer = (value["code"] == "Y") if value.get("system") == V2_0136 else value["code"]
            return {"question": condition["question"], "answer": answer}
        if key.startswith("answer"):
            return {"question": condition["question"], "answer": value}
    raise ValueError(f"enableWhen on {condition.get('question')!r} has no answer")


# -- checks ----------------------------------------------------------------------------------
def _structure(assessment: dict) -> list:
    """What stored responses depend on: ids, types, options and scores, conditions (not texts)."""
    def option(o: dict) -> tuple:
        return o["code"], o.get("score")
    return [(s["id"], [(q["id"], q["type"], q.get("required"), [option(o) for o in q.get("options") or []],
                        q.get("scores"), q.get("enable_when")) for q in s["questions"]])
            for s in assessment["sections"]]


def check_assessment(rec: dict, lookup: Lookup) -> list[Problem]:
    problems: list[Problem] = []
    if rec["kind"] == "indepth" and not rec.get("theme"):
        problems.append(("theme", "an in-depth assessment needs its theme"))
    seen: dict[str, dict] = {}
    section_ids: set[str] = set()
    for s, section in enumerate(rec["sections"]):
        where = f"sections[{s}]"
        if section["id"] in section_ids:
            problems.append((f"{where}.id", f"section id {section['id']!r} is used twice"))
        section_ids.add(section["id"])
        for q, question in enumerate(section["questions"]):
            problems += _question_problems(question, f"{where}.questions[{q}]", seen)
            seen.setdefault(question["id"], question)
    for s, section in enumerate(rec["sections"]):
        if section["id"] in seen:  # linkIds are unique across a FHIR Questionnaire
            problems.append((f"sections[{s}].id", f"{section['id']!r} is also the id of a question"))
    stored = lookup("assessment", assessment_key(rec["id"], rec["version"]))
    if stored is not None and stored["status"] != "draft" and _structure(stored) != _structure(rec):
        problems.append(("sections", f"version {rec['version']} of {rec['id']} is already published with other "
                                     "questions, options or scores; a changed form needs a new version"))
    return problems


def _question_problems(question: dict, where: str, earlier: dict[str, dict]) -> list[Problem]:
    problems: list[Problem] = []
    if question["id"] in earlier:
        problems.append((f"{where}.id", f"question id {question['id']!r} is used twice in this version"))
    kind = question["type"]
    options = question.get("options")
    if kind in ("choice", "multi-choice"):
        codes = [o["code"] for o in options or []]
        if not codes:
            problems.append((f"{where}.options", f"a {kind} question needs options"))
        elif len(set(codes)) != len(codes):
            problems.append((f"{where}.options", "option codes must be unique in the question"))
    elif options is not None:
        problems.append((f"{where}.options", "only choice and multi-choice questions have options"))
    if "scores" in question and kind != "boolean":
        problems.append((f"{where}.scores", "only boolean questions have scores (options carry their own)"))
    condition = question.get("enable_when")
    if condition is not None:
        controlling = earlier.get(condition["question"])
        if controlling is None:
            problems.append((f"{where}.enable_when.question",
                             f"{condition['question']!r} is not an earlier question of this form"))
        else:
            probe = controlling
            if controlling["type"] == "multi-choice":  # the condition names one of its codes
                probe = {**controlling, "type": "choice"}
            why = value_problem(probe, condition["answer"])
            if why:
                problems.append((f"{where}.enable_when.answer", f"{why} (as question {controlling['id']})"))
    return problems


# -- mapping ---------------------------------------------------------------------------------
def _answer_option(value_coding: dict, score) -> dict:
    option: dict = {}
    if score is not None:
        option["extension"] = [{"url": ORDINAL_VALUE, "valueDecimal": score}]
    option["valueCoding"] = value_coding
    return option


def _question_item(question: dict, by_id: dict[str, dict]) -> dict:
    kind = question["type"]
    item: dict = {"linkId": question["id"], "text": question["text"]}
    if kind == "boolean":
        item["type"] = "choice" if _is_scored_boolean(question) else "boolean"
    elif kind in ("choice", "multi-choice"):
        item["type"] = "choice"
    else:
        item["type"] = _SIMPLE_TYPES[kind][0]
    condition = question.get("enable_when")
    if condition is not None:
        item["enableWhen"] = [{"question": condition["question"], "operator": "=",
                               **_enable_when_answer(by_id[condition["question"]], condition["answer"])}]
    item["required"] = question.get("required", False)
    if kind == "multi-choice":
        item["repeats"] = True
    if _is_scored_boolean(question):
        scores = question["scores"]
        item["answerOption"] = [_answer_option(YES, scores.get("true")), _answer_option(NO, scores.get("false"))]
    elif kind in ("choice", "multi-choice"):
        item["answerOption"] = [_answer_option({"code": o["code"], "display": o["label"]}, o.get("score"))
                                for o in question["options"]]
    return item


def assessment_to_questionnaire(rec: dict, source: str, _lookup: Lookup | None = None) -> dict:
    by_id = {q["id"]: q for q in questions(rec)}
    codes = [coding(CS_ASSESSMENT_KIND, rec["kind"])]
    if rec.get("theme"):
        codes.append(coding(CS_ASSESSMENT_THEME, rec["theme"]))
    body: dict = {"resourceType": "Questionnaire", "id": questionnaire_id(rec["id"], rec["version"]),
                  "meta": meta("Questionnaire", source, [CONFIDENTIALITY_NORMAL]),
                  "url": QUESTIONNAIRE_URL + rec["id"], "version": rec["version"], "title": rec["title"],
                  "status": rec["status"], "subjectType": ["Organization"]}
    if rec.get("published"):
        body["date"] = rec["published"]
    body["code"] = codes
    body["item"] = [{"linkId": s["id"], "code": [coding(CS_ASSESSMENT_SECTION, s["id"])], "text": s["title"],
                     "type": "group", "item": [_question_item(q, by_id) for q in s["questions"]]}
                    for s in rec["sections"]]
    return body


def _ordinal(option: dict):
    return next((e.get("valueDecimal") for e in option.get("extension") or [] if e.get("url") == ORDINAL_VALUE), None)


def _native_question(item: dict) -> dict:
    question: dict = {"id": item["linkId"], "text": item.get("text")}
    options = item.get("answerOption") or []
    if item["type"] == "choice" and options and all(o["valueCoding"].get("system") == V2_0136 for o in options):
        question["type"] = "boolean"
        scores = {("true" if o["valueCoding"]["code"] == "Y" else "false"): _ordinal(o) for o in options}
        scores = {k: v for k, v in scores.items() if v is not None}
    elif item["type"] == "choice":
        question["type"] = "multi-choice" if item.get("repeats") else "choice"
        scores = None
    elif item["type"] == "boolean":
        question["type"], scores = "boolean", None
    else:
        question["type"], scores = _FROM_SIMPLE[item["type"]], None
    question["required"] = item.get("required", False)
    if question["type"] in ("choice", "multi-choice"):
        question["options"] = []
        for o in options:
            option = {"code": o["valueCoding"]["code"], "label": o["valueCoding"].get("display")}
            if _ordinal(o) is not None:
                option["score"] = _ordinal(o)
            question["options"].append(option)
    if scores:
        question["scores"] = scores
    if item.get("enableWhen"):
        question["enable_when"] = _native_enable_when(item["enableWhen"][0])
    return question


def fhir_to_assessment(questionnaire: dict, _lookup: Lookup | None = None) -> dict:
    url = questionnaire["url"]
    rec: dict = {"id": url[len(QUESTIONNAIRE_URL):] if url.startswith(QUESTIONNAIRE_URL) else url,
                 "version": questionnaire["version"]}
    codes = [c for c in questionnaire.get("code") or []]
    rec["kind"] = next((c["code"] for c in codes if c.get("system") == CS_ASSESSMENT_KIND), None)
    theme = next((c["code"] for c in codes if c.get("system") == CS_ASSESSMENT_THEME), None)
    if theme:
        rec["theme"] = theme
    rec["title"] = questionnaire.get("title")
    rec["status"] = questionnaire["status"]
    if questionnaire.get("date"):
        rec["published"] = questionnaire["date"]
    rec["sections"] = [{"id": group["linkId"], "title": group.get("text"),
                        "questions": [_native_question(item) for item in group.get("item") or []]}
                       for group in questionnaire.get("item") or []]
    return rec


def is_hub_questionnaire(questionnaire: dict) -> bool:
    return str(questionnaire.get("url", "")).startswith(QUESTIONNAIRE_URL) and bool(questionnaire.get("version"))


def retire_questionnaire(questionnaire: dict) -> dict:
    return {**questionnaire, "status": "retired"}


def section_code(group_item: dict) -> str | None:
    return code_of({"coding": group_item.get("code")}, CS_ASSESSMENT_SECTION)
