"""actions.ndjson <-> Task, field by field, both ways; the action rules."""
from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from adapter.validation import validate_resource
from mappings.action import action_to_task, check_action, fhir_to_action
from mappings.names import (CS_ACTION_STATUS, CS_DATA_TYPE, CS_IMPACT_CATEGORY, EXT_QUESTION_LINK_ID, ID_ACTION,
                            ODS, PROFILE)
from mappings.schemas import load_record
from mappings.submission import submission_header, submission_to_questionnaire_response
from mappings.types import dict_lookup

PACKAGE = Path(__file__).resolve().parents[1] / "fixtures" / "packages" / "basic"


def rows(file: str) -> list[dict]:
    return [orjson.loads(line) for line in (PACKAGE / file).read_bytes().splitlines() if line.strip()]


def natives() -> dict[str, dict]:
    return {row["id"]: load_record("action", row)[0] for row in rows("actions.ndjson")}


def lookup():
    orgs = [load_record("organisation", r)[0] for r in rows("organisations.ndjson")]
    assessments = [load_record("assessment", r)[0] for r in rows("assessments.ndjson")]
    base = dict_lookup(organisations=orgs, assessments=assessments)
    headers = [submission_header(submission_to_questionnaire_response(load_record("submission", r)[0], "s", base))
               for r in rows("submissions.ndjson")]
    return dict_lookup(organisations=orgs, assessments=assessments, submissions=headers)


def task(action_id: str = "A-000981") -> dict:
    return action_to_task(natives()[action_id], "dthub-test", lookup())


def ref(ods: str) -> dict:
    return {"reference": f"Organization/{ods}", "identifier": {"system": ODS, "value": ods}}


def test_task_fields():
    t = task()
    assert t["id"] == "A-000981" and t["identifier"] == [{"system": ID_ACTION, "value": "A-000981"}]
    assert t["meta"]["profile"] == [PROFILE["Task"]] and t["meta"]["source"] == "dthub-test"
    assert t["status"] == "in-progress" and t["intent"] == "plan" and t["priority"] == "routine"
    assert t["businessStatus"] == {"coding": [{"system": CS_ACTION_STATUS, "code": "in-progress"}]}
    assert t["code"] == {"text": "Appoint a digital lead"}
    assert t["description"] == "Name a GP partner as digital lead."
    assert t["for"] == ref("A81001")
    assert t["focus"] == {"reference": "QuestionnaireResponse/S-2026-000123"}
    assert t["reasonReference"] == {"extension": [{"url": EXT_QUESTION_LINK_ID, "valueString": "LD2"}],
                                    "reference": "QuestionnaireResponse/S-2026-000123"}
    assert t["authoredOn"] == "2026-05-11T08:00:00Z"
    assert t["restriction"] == {"period": {"end": "2026-09-30"}}
    assert "executionPeriod" not in t
    assert t["note"] == [{"time": "2026-06-01T12:00:00Z", "text": "Lead agreed at partners' meeting"}]
    assert t["output"] == [{"type": {"coding": [{"system": CS_IMPACT_CATEGORY, "code": "time-saved"}],
                                     "text": "Less time chasing IT issues"},
                            "valueQuantity": {"value": 12.5, "unit": "hours/month"}}]


def test_owner_with_a_person_is_a_contained_role_of_the_organisation():
    t = task()
    assert t["owner"] == {"reference": "#owner-role"}
    practitioner, role = t["contained"]
    assert practitioner == {"resourceType": "Practitioner", "id": "owner", "name": [{"text": "Jo Bloggs"}]}
    assert role["organization"] == ref("A81001") and role["code"] == [{"text": "Practice Manager"}]


def test_owner_without_a_person_is_the_organisation():
    t = task("A-000982")
    assert t["owner"] == ref("U89141") and "contained" not in t


def test_completed_and_priority():
    t = task("A-000982")
    assert t["status"] == "completed" and t["priority"] == "urgent"
    assert t["executionPeriod"] == {"end": "2026-07-01T16:00:00Z"}


def test_labels_add_indepth_action_summary_for_an_indepth_submission():
    def data_types(t):
        return [c["code"] for c in t["meta"]["security"] if c["system"] == CS_DATA_TYPE]
    assert data_types(task()) == ["actions", "impact-summary"]
    assert data_types(task("A-000982")) == ["actions", "impact-summary", "indepth-action-summary"]
    assert data_types(task("A-000983")) == ["actions", "impact-summary"]  # no submission
    assert [c["code"] for c in task()["meta"]["security"]][-2:] == ["practice", "R"]


@pytest.mark.parametrize("hub,fhir", [("proposed", "requested"), ("agreed", "accepted"),
                                      ("in-progress", "in-progress"), ("on-hold", "on-hold"),
                                      ("completed", "completed"), ("cancelled", "cancelled")])
def test_status_mapping(hub, fhir):
    native = {**natives()["A-000982"], "status": hub}
    t = action_to_task(native, "s", lookup())
    assert t["status"] == fhir and t["businessStatus"]["coding"][0]["code"] == hub
    assert fhir_to_action(t)["status"] == hub


@pytest.mark.parametrize("impact,output_value", [
    ({"category": "cost", "value": 100}, {"valueQuantity": {"value": 100}}),
    ({"category": "cost", "unit": "GBP"}, {"valueQuantity": {"unit": "GBP"}}),
    ({"category": "other", "summary": "Happier staff"},
     {"valueCodeableConcept": {"coding": [{"system": CS_IMPACT_CATEGORY, "code": "other"}]}}),
])
def test_impact_variants(impact, output_value):
    native = {**natives()["A-000983"], "impact": impact}
    t = action_to_task(native, "s", lookup())
    assert {k: v for k, v in t["output"][0].items() if k != "type"} == output_value
    assert fhir_to_action(t) == native
    assert [i for i in validate_resource(t) if i.severity == "error"] == []


@pytest.mark.parametrize("action_id", ["A-000981", "A-000982", "A-000983"])
def test_round_trip_and_valid_fhir(action_id):
    native = natives()[action_id]
    t = action_to_task(native, "s", lookup())
    assert fhir_to_action(t) == native
    assert [i for i in validate_resource(t) if i.severity in ("error", "fatal")] == []


def test_defaults_priority_routine():
    loaded, problems = load_record("action", {"id": "A-1", "practice": "A81001", "title": "T", "status": "proposed",
                                              "created": "2026-05-11T08:00:00Z", "notes": [], "completed": None})
    assert problems == [] and loaded == {"id": "A-1", "practice": "A81001", "title": "T", "status": "proposed",
                                         "priority": "routine", "created": "2026-05-11T08:00:00Z"}


@pytest.mark.parametrize("change,field,reason", [
    ({"practice": "Z99999"}, "practice", "not known"),
    ({"submission": "S-404"}, "submission", "not known"),
    ({"submission": "S-2026-000124", "question": "LD2"}, "submission", "of practice A81002, not A81001"),
    ({"question": "ZZ9"}, "question", "unknown question 'ZZ9'"),
    ({"submission": None}, "question", "only together with its submission"),
    ({"status": "completed"}, "completed", "needs its completed time"),
    ({"owner": {"organisation": "A81002"}}, "owner.organisation", "not the practice, its PCN or its ICB"),
])
def test_action_rules(change, field, reason):
    native = {k: v for k, v in {**natives()["A-000981"], **change}.items() if v is not None}
    problems = check_action(native, lookup())
    assert [(f, r) for f, r in problems if f == field and reason in r], problems


@pytest.mark.parametrize("owner", ["A81001", "U89141", "QHM"])
def test_owner_may_be_the_practice_its_pcn_or_its_icb(owner):
    assert check_action({**natives()["A-000981"], "owner": {"organisation": owner}}, lookup()) == []
