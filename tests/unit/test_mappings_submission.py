"""submissions.ndjson <-> QuestionnaireResponse, field by field, both ways; the answer rules."""
from __future__ import annotations

import copy
from pathlib import Path

import orjson
import pytest

from adapter.validation import validate_resource
from mappings.names import CS_DATA_TYPE, CS_GRANULARITY, EXT_SCORE, ID_SUBMISSION, ODS, PROFILE, V2_0136
from mappings.schemas import load_record
from mappings.submission import check_submission, fhir_to_submission, submission_to_questionnaire_response
from mappings.types import dict_lookup

PACKAGE = Path(__file__).resolve().parents[1] / "fixtures" / "packages" / "basic"


def rows(file: str) -> list[dict]:
    return [orjson.loads(line) for line in (PACKAGE / file).read_bytes().splitlines() if line.strip()]


def natives() -> dict[str, dict]:
    return {row["id"]: load_record("submission", row)[0] for row in rows("submissions.ndjson")}


def lookup():
    return dict_lookup(organisations=[load_record("organisation", r)[0] for r in rows("organisations.ndjson")],
                       assessments=[load_record("assessment", r)[0] for r in rows("assessments.ndjson")])


def qr(submission_id: str = "S-2026-000123") -> dict:
    return submission_to_questionnaire_response(natives()[submission_id], "dthub-test", lookup())


def answers(response: dict) -> dict[str, list]:
    return {i["linkId"]: i["answer"] for g in response["item"] for i in g.get("item", [])}


def score_of(element: dict) -> tuple:
    ext = next(e for e in element["extension"] if e["url"] == EXT_SCORE)
    parts = {p["url"]: p["valueDecimal"] for p in ext["extension"]}
    return parts["score"], parts["maximum"]


def test_header_fields():
    r = qr()
    assert r["id"] == "S-2026-000123"
    assert r["identifier"] == {"system": ID_SUBMISSION, "value": "S-2026-000123"}
    assert r["questionnaire"] == "https://fhir.dandthub.co.uk/Questionnaire/global|2026.1"
    assert r["status"] == "completed" and r["authored"] == "2026-05-10T10:22:00Z"
    assert r["subject"] == {"reference": "Organization/A81001", "identifier": {"system": ODS, "value": "A81001"}}
    assert r["meta"]["profile"] == [PROFILE["QuestionnaireResponse"]] and r["meta"]["source"] == "dthub-test"


def test_security_labels_follow_the_assessment_kind():
    def labels(response):
        return [(c["system"], c["code"]) for c in response["meta"]["security"]]
    conf = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
    assert labels(qr()) == [(CS_DATA_TYPE, "global-assessment"), (CS_GRANULARITY, "practice"), (conf, "R")]
    assert labels(qr("S-2026-000125"))[0] == (CS_DATA_TYPE, "indepth-assessment")


def test_author_is_a_contained_practitioner_and_role():
    r = qr()
    assert r["author"] == {"reference": "#author-role"}
    practitioner, role = r["contained"]
    assert practitioner == {"resourceType": "Practitioner", "id": "author", "name": [{"text": "Jo Bloggs"}],
                            "telecom": [{"system": "email", "value": "jo.bloggs@nhs.net"}]}
    assert role["practitioner"] == {"reference": "#author"} and role["code"] == [{"text": "Practice Manager"}]
    assert role["organization"]["reference"] == "Organization/A81001"
    assert "contained" not in qr("S-2026-000125") and "author" not in qr("S-2026-000125")


def test_answers_are_typed_per_item():
    found = answers(qr())
    assert found["LD1"] == [{"valueCoding": {"system": V2_0136, "code": "Y", "display": "Yes"}}]  # scored boolean
    assert found["LD2"] == [{"valueCoding": {"code": "2", "display": "Partially implemented"}}]
    assert found["LD3"] == [{"valueString": "Time and money"}]
    assert found["IN1"] == [{"valueCoding": {"code": "emis", "display": "EMIS Web"}},
                            {"valueCoding": {"code": "cloud", "display": "Cloud telephony"}}]
    assert found["IN2"] == [{"valueBoolean": False}]  # unscored boolean
    assert found["IN3"] == [{"valueInteger": 12}]
    assert found["IN4"] == [{"valueDecimal": 80.5}]
    assert found["IN5"] == [{"valueDate": "2024-03-01"}]


def test_section_and_total_scores():
    r = qr()
    assert [g["linkId"] for g in r["item"]] == ["leadership", "infrastructure"]
    # leadership: LD1 yes 4/4 + LD2 "2" 2/4; infrastructure: IN1 emis+cloud 3 of 4
    assert [score_of(g) for g in r["item"]] == [(6, 8), (3, 4)]
    assert score_of(r) == (9, 12)


def test_every_section_is_present_even_unanswered():
    r = qr("S-2026-000124")  # in progress: only LD1 = false
    assert [(g["linkId"], "item" in g, score_of(g)) for g in r["item"]] == [
        ("leadership", True, (0, 4)), ("infrastructure", False, (0, 4))]


def test_in_progress_is_authored_when_started():
    r = qr("S-2026-000124")
    assert r["status"] == "in-progress" and r["authored"] == "2026-06-02T09:00:00Z"


@pytest.mark.parametrize("submission_id", ["S-2026-000123", "S-2026-000124", "S-2026-000125"])
def test_round_trip_and_valid_fhir(submission_id):
    native = natives()[submission_id]
    r = submission_to_questionnaire_response(native, "s", lookup())
    expected = copy.deepcopy(native)
    if expected["status"] != "in-progress":
        expected.pop("started", None)  # documented: R4 has no home for the start of a finished submission
    assert fhir_to_submission(r, lookup()) == expected
    assert [i for i in validate_resource(r) if i.severity in ("error", "fatal")] == []


def test_round_trip_puts_answers_in_form_order():
    native = natives()["S-2026-000123"]
    shuffled = {**native, "answers": list(reversed(native["answers"]))}
    r = submission_to_questionnaire_response(shuffled, "s", lookup())
    assert fhir_to_submission(r, lookup())["answers"] == native["answers"]


def test_null_and_empty_answers_are_unanswered():
    raw = {**rows("submissions.ndjson")[1], "answers": [{"question": "LD1", "value": False},
                                                        {"question": "LD3", "value": None},
                                                        {"question": "IN1", "value": []}]}
    loaded, _ = load_record("submission", raw)
    assert loaded["answers"] == [{"question": "LD1", "value": False}]


def _with_answers(*answers_, status="in-progress", **more) -> dict:
    return {"id": "S-X", "assessment": "global", "assessment_version": "2026.1", "practice": "A81001",
            "status": status, "submitted": "2026-05-10T10:22:00Z",
            "answers": [{"question": q, "value": v} for q, v in answers_], **more}


@pytest.mark.parametrize("native,field,reason", [
    (_with_answers(("XX", 1)), "answers[0].question", "unknown question 'XX'"),
    (_with_answers(("LD1", "true")), "answers[0].value", "wrong type"),
    (_with_answers(("LD1", True), ("LD2", 2)), "answers[1].value", "wrong type"),
    (_with_answers(("LD1", True), ("LD2", "7")), "answers[1].value", "unknown option code '7'"),
    (_with_answers(("IN1", ["emis", "nope"])), "answers[0].value", "unknown option code 'nope'"),
    (_with_answers(("IN1", ["emis", "emis"])), "answers[0].value", "chosen twice"),
    (_with_answers(("IN3", 1.5)), "answers[0].value", "expected an integer"),
    (_with_answers(("IN4", "fast")), "answers[0].value", "expected a number"),
    (_with_answers(("IN5", "01/03/2024")), "answers[0].value", "expected a date"),
    (_with_answers(("LD1", False), ("LD2", "2")), "answers[1].question", "not enabled"),
    (_with_answers(("LD1", True), ("LD1", True)), "answers[1].question", "answered twice"),
    (_with_answers(("LD1", True), ("IN2", True), status="completed"), "answers", "'LD2' is not answered"),
    (_with_answers(("LD1", True), status="amended"), "answers", "'IN2' is not answered"),
    ({**_with_answers(), "practice": "U89141"}, "practice", "is a PCN, not a practice"),
    ({**_with_answers(), "assessment_version": "1999"}, "assessment_version", "is not known"),
    ({**_with_answers(("LD1", False), ("IN2", True), status="completed"), "submitted": None}, "submitted",
     "needs its submitted time"),
])
def test_answer_rules(native, field, reason):
    native = {k: v for k, v in native.items() if v is not None}
    problems = check_submission(native, lookup())
    assert [(f, r) for f, r in problems if f == field and reason in r], problems


def test_required_questions_that_are_disabled_need_no_answer():
    # LD2 is required but disabled when LD1 is false
    assert check_submission(_with_answers(("LD1", False), ("IN2", True), status="completed"), lookup()) == []
