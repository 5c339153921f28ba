"""assessments.ndjson <-> Questionnaire, field by field, both ways; the form rules."""
from __future__ import annotations

import copy
from pathlib import Path

import orjson
import pytest

from adapter.validation import validate_resource
from mappings.assessment import assessment_to_questionnaire, check_assessment, fhir_to_assessment
from mappings.names import (CS_ASSESSMENT_KIND, CS_ASSESSMENT_SECTION, CS_ASSESSMENT_THEME, ORDINAL_VALUE,
                            PROFILE, V2_0136)
from mappings.schemas import load_record
from mappings.types import dict_lookup

PACKAGE = Path(__file__).resolve().parents[1] / "fixtures" / "packages" / "basic"


def natives() -> dict[str, dict]:
    rows = [orjson.loads(line) for line in (PACKAGE / "assessments.ndjson").read_bytes().splitlines() if line.strip()]
    return {row["id"]: load_record("assessment", row)[0] for row in rows}


def items(questionnaire: dict) -> dict[str, dict]:
    return {item["linkId"]: item for group in questionnaire["item"] for item in group["item"]}


def ordinal(option: dict):
    return [e["valueDecimal"] for e in option.get("extension", []) if e["url"] == ORDINAL_VALUE]


def test_questionnaire_header():
    q = assessment_to_questionnaire(natives()["global"], "dthub-test")
    assert q["id"] == "global-2026.1"
    assert q["url"] == "https://fhir.dandthub.co.uk/Questionnaire/global" and q["version"] == "2026.1"
    assert q["meta"]["profile"] == [PROFILE["Questionnaire"]] and q["meta"]["source"] == "dthub-test"
    assert [c["code"] for c in q["meta"]["security"]] == ["N"]  # reference data: no data-type label
    assert q["title"] == "Global Digital and Transformation Assessment"
    assert q["status"] == "active" and q["date"] == "2026-04-01" and q["subjectType"] == ["Organization"]
    assert q["code"] == [{"system": CS_ASSESSMENT_KIND, "code": "global"}]


def test_indepth_carries_kind_and_theme_codings():
    q = assessment_to_questionnaire(natives()["telephony"], "s")
    assert q["code"] == [{"system": CS_ASSESSMENT_KIND, "code": "indepth"},
                         {"system": CS_ASSESSMENT_THEME, "code": "telephony"}]


def test_sections_are_coded_groups():
    q = assessment_to_questionnaire(natives()["global"], "s")
    assert [(g["linkId"], g["type"], g["text"], g["code"]) for g in q["item"]] == [
        ("leadership", "group", "Leadership and digital strategy",
         [{"system": CS_ASSESSMENT_SECTION, "code": "leadership"}]),
        ("infrastructure", "group", "Infrastructure", [{"system": CS_ASSESSMENT_SECTION, "code": "infrastructure"}])]


def test_scored_boolean_becomes_a_y_n_choice_with_ordinal_values():
    item = items(assessment_to_questionnaire(natives()["global"], "s"))["LD1"]
    assert item["type"] == "choice" and item["required"] is True and "repeats" not in item
    assert [(o["valueCoding"]["system"], o["valueCoding"]["code"], ordinal(o)) for o in item["answerOption"]] == [
        (V2_0136, "Y", [4]), (V2_0136, "N", [0])]


def test_partially_scored_boolean_keeps_only_the_given_score():
    item = items(assessment_to_questionnaire(natives()["telephony"], "s"))["TE2"]
    assert [(o["valueCoding"]["code"], ordinal(o)) for o in item["answerOption"]] == [("Y", [1]), ("N", [])]


def test_unscored_boolean_stays_boolean():
    item = items(assessment_to_questionnaire(natives()["global"], "s"))["IN2"]
    assert item["type"] == "boolean" and "answerOption" not in item


def test_choice_options_carry_code_label_and_score():
    item = items(assessment_to_questionnaire(natives()["global"], "s"))["LD2"]
    assert item["type"] == "choice"
    assert [(o["valueCoding"], ordinal(o)) for o in item["answerOption"]][:2] == [
        ({"code": "0", "display": "Not started"}, [0]), ({"code": "1", "display": "Planning"}, [1])]


def test_enable_when_on_a_scored_boolean_is_a_y_coding():
    item = items(assessment_to_questionnaire(natives()["global"], "s"))["LD2"]
    assert item["enableWhen"] == [{"question": "LD1", "operator": "=",
                                   "answerCoding": {"system": V2_0136, "code": "Y"}}]


@pytest.mark.parametrize("controlling,answer,expected", [
    ({"type": "boolean"}, False, {"answerBoolean": False}),
    ({"type": "choice", "options": [{"code": "a", "label": "A"}]}, "a", {"answerCoding": {"code": "a"}}),
    ({"type": "multi-choice", "options": [{"code": "a", "label": "A"}]}, "a", {"answerCoding": {"code": "a"}}),
    ({"type": "integer"}, 3, {"answerInteger": 3}),
    ({"type": "decimal"}, 2.5, {"answerDecimal": 2.5}),
    ({"type": "text"}, "yes", {"answerString": "yes"}),
    ({"type": "date"}, "2026-01-01", {"answerDate": "2026-01-01"}),
])
def test_enable_when_answer_is_typed_as_its_question(controlling, answer, expected):
    native = {"id": "f", "version": "1", "kind": "global", "title": "F", "status": "draft", "sections": [
        {"id": "s", "title": "S", "questions": [
            {"id": "C", "text": "c", "required": False, **controlling},
            {"id": "D", "text": "d", "type": "text", "required": False,
             "enable_when": {"question": "C", "answer": answer}}]}]}
    q = assessment_to_questionnaire(native, "s")
    assert items(q)["D"]["enableWhen"] == [{"question": "C", "operator": "=", **expected}]
    assert fhir_to_assessment(q) == native
    assert check_assessment(native, dict_lookup()) == []
    assert [i for i in validate_resource(q) if i.severity == "error"] == []


def test_question_types():
    questionnaire = assessment_to_questionnaire(natives()["global"], "s")
    found = {k: (v["type"], v.get("repeats")) for k, v in items(questionnaire).items()}
    assert found == {"LD1": ("choice", None), "LD2": ("choice", None), "LD3": ("text", None),
                     "IN1": ("choice", True), "IN2": ("boolean", None), "IN3": ("integer", None),
                     "IN4": ("decimal", None), "IN5": ("date", None)}


@pytest.mark.parametrize("assessment_id", ["global", "telephony"])
def test_round_trip_and_valid_fhir(assessment_id):
    native = natives()[assessment_id]
    q = assessment_to_questionnaire(native, "s")
    assert fhir_to_assessment(q) == native
    assert [i for i in validate_resource(q) if i.severity in ("error", "fatal")] == []


def test_normalisations_required_default_and_empty_scores():
    raw = {"id": "f", "version": "1", "kind": "global", "title": "F", "status": "draft", "theme": None,
           "sections": [{"id": "s", "title": "S", "questions": [{"id": "Q", "text": "q", "type": "boolean",
                                                                   "scores": {}}]}]}
    loaded, problems = load_record("assessment", raw)
    assert problems == []
    assert loaded["sections"][0]["questions"][0] == {"id": "Q", "text": "q", "type": "boolean", "required": False}
    assert "theme" not in loaded


def _form(**question) -> dict:
    return {"id": "f", "version": "1", "kind": "global", "title": "F", "status": "active", "sections": [
        {"id": "s", "title": "S", "questions": [{"id": "Q", "text": "q", "required": False, **question}]}]}


@pytest.mark.parametrize("native,field,reason", [
    ({**_form(type="text"), "kind": "indepth"}, "theme", "needs its theme"),
    (_form(type="choice"), "sections[0].questions[0].options", "needs options"),
    (_form(type="choice", options=[{"code": "a", "label": "A"}, {"code": "a", "label": "B"}]),
     "sections[0].questions[0].options", "unique"),
    (_form(type="text", options=[{"code": "a", "label": "A"}]), "sections[0].questions[0].options",
     "only choice and multi-choice"),
    (_form(type="choice", options=[{"code": "a", "label": "A"}], scores={"true": 1}),
     "sections[0].questions[0].scores", "only boolean"),
    (_form(type="text", enable_when={"question": "Q", "answer": "x"}),
     "sections[0].questions[0].enable_when.question", "not an earlier question"),
    ({**_form(type="text"), "sections": [{"id": "Q", "title": "S", "questions": [
        {"id": "Q", "text": "q", "type": "text", "required": False}]}]}, "sections[0].id", "also the id of a question"),
])
def test_form_rules(native, field, reason):
    problems = check_assessment(native, dict_lookup())
    assert [(f, r) for f, r in problems if f == field and reason in r], problems


def test_enable_when_answer_must_fit_the_controlling_question():
    native = _form(type="boolean")
    native["sections"][0]["questions"].append({"id": "R", "text": "r", "type": "text", "required": False,
                                               "enable_when": {"question": "Q", "answer": "yes"}})
    assert check_assessment(native, dict_lookup()) == [
        ("sections[0].questions[1].enable_when.answer", "wrong type: expected true or false (as question Q)")]


def test_a_published_version_may_change_its_texts_but_not_its_questions():
    stored = natives()["global"]
    lookup = dict_lookup(assessments=[stored])
    retitled = copy.deepcopy(stored)
    retitled["title"] = "New title"
    retitled["sections"][0]["questions"][0]["text"] = "Reworded"
    assert check_assessment(retitled, lookup) == []
    rescored = copy.deepcopy(stored)
    rescored["sections"][0]["questions"][0]["scores"]["true"] = 5
    assert check_assessment(rescored, lookup)[0][0] == "sections"
    as_draft = dict_lookup(assessments=[{**stored, "status": "draft"}])
    assert check_assessment(rescored, as_draft) == []
