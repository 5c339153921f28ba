"""A QuestionnaireResponse posted over FHIR for a Hub form is checked against that form, and becomes
a Hub submission (the same rules as the import; `dthub export` writes it out)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from adapter.exporter import export_package
from adapter.importer import import_package
from tests.helpers import post_json, put_json

PACKAGE = Path(__file__).resolve().parents[1] / "fixtures" / "packages" / "basic"


@pytest.fixture
def imported(app, client):
    report = import_package(app.extensions["dthub"].repo, PACKAGE)
    assert report.exit_code == 0
    response = client.get("/fhir/QuestionnaireResponse/S-2026-000123").get_json()
    fresh = {k: v for k, v in copy.deepcopy(response).items() if k not in ("id", "meta")}
    fresh["identifier"] = dict(fresh["identifier"], value="S-API-1")
    return fresh


def _answers(qr: dict) -> dict[str, dict]:
    return {item["linkId"]: item for group in qr["item"] for item in group.get("item", [])}


def _issues(response) -> str:
    assert response.status_code == 422, response.get_json()
    return " ".join(i["diagnostics"] for i in response.get_json()["issue"])


def test_a_valid_response_for_a_hub_form_is_stored(client, imported):
    response = post_json(client, "/fhir/QuestionnaireResponse", imported)
    assert response.status_code == 201, response.get_json()


def test_unknown_question_is_refused(client, imported):
    _answers(imported)["LD3"]["linkId"] = "NOPE"
    assert "NOPE" in _issues(post_json(client, "/fhir/QuestionnaireResponse", imported))


def test_answer_of_the_wrong_type_or_option_is_refused(client, imported):
    bad_option = copy.deepcopy(imported)
    _answers(imported)["IN3"]["answer"] = [{"valueString": "twelve"}]
    assert "IN3" in _issues(post_json(client, "/fhir/QuestionnaireResponse", imported))
    _answers(bad_option)["LD2"]["answer"][0]["valueCoding"]["code"] = "99"
    assert "99" in _issues(post_json(client, "/fhir/QuestionnaireResponse", bad_option))


def test_answer_to_a_disabled_question_is_refused(client, imported):
    ld1 = _answers(imported)["LD1"]["answer"][0]
    ld1.clear()
    ld1["valueCoding"] = {"system": "http://terminology.hl7.org/CodeSystem/v2-0136", "code": "N"}
    assert "not enabled" in _issues(post_json(client, "/fhir/QuestionnaireResponse", imported))


def test_a_completed_response_missing_a_required_answer_is_refused(client, imported):
    group = next(g for g in imported["item"] if any(i["linkId"] == "IN2" for i in g.get("item", [])))
    group["item"] = [i for i in group["item"] if i["linkId"] != "IN2"]
    assert "IN2" in _issues(post_json(client, "/fhir/QuestionnaireResponse", imported))
    in_progress = dict(imported, status="in-progress")
    assert post_json(client, "/fhir/QuestionnaireResponse", in_progress).status_code == 201


def test_an_unknown_form_version_is_refused(client, imported):
    imported["questionnaire"] = imported["questionnaire"].replace("2026.1", "1999.9")
    assert "not known" in _issues(post_json(client, "/fhir/QuestionnaireResponse", imported))


def test_validate_reports_the_same_problems(client, imported):
    _answers(imported)["LD3"]["linkId"] = "NOPE"
    outcome = post_json(client, "/fhir/QuestionnaireResponse/$validate", imported).get_json()
    assert any("NOPE" in i["diagnostics"] for i in outcome["issue"])


def test_a_posted_response_is_exported_as_a_hub_submission(app, client, imported, tmp_path):
    imported["id"] = "S-API-1"
    assert put_json(client, "/fhir/QuestionnaireResponse/S-API-1", imported).status_code == 201
    export_package(app.extensions["dthub"].repo, tmp_path / "out")
    records = [json.loads(line) for line in (tmp_path / "out" / "submissions.ndjson").read_text().splitlines() if line]
    exported = next(r for r in records if r["id"] == "S-API-1")
    assert exported["practice"] == "A81001" and exported["assessment_version"] == "2026.1"
    assert {a["question"] for a in exported["answers"]} >= {"LD1", "LD2", "IN2"}
