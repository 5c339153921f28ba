"""Per-practice summaries from Tasks, and the Provenance of an import batch."""
from __future__ import annotations

from adapter.validation import validate_resource
from mappings.action import action_to_task, retire_task
from mappings.names import CS_DATA_TYPE, MEASURE_REPORT_SUBJECT
from mappings.provenance import import_provenance
from mappings.summaries import PracticeActions, impact_summary, indepth_action_summary, practice_of
from mappings.types import dict_lookup

ORGS = [{"ods_code": "A81001", "kind": "practice", "icb": "QHM", "name": "X", "active": True}]
ASSESSMENTS = [{"id": "tel", "version": "1", "kind": "indepth", "theme": "telephony", "title": "T", "status": "active",
                "sections": [{"id": "s", "title": "S", "questions": [{"id": "Q", "text": "q", "type": "text"}]}]}]
SUBMISSIONS = [{"id": "S1", "assessment": "tel", "assessment_version": "1", "practice": "A81001",
                "status": "completed"}]
LOOKUP = dict_lookup(organisations=ORGS, assessments=ASSESSMENTS, submissions=SUBMISSIONS)


def task(id_, status="in-progress", created="2026-05-11T08:00:00Z", impact=None, indepth=False):
    native = {"id": id_, "practice": "A81001", "title": "T", "status": status, "priority": "routine",
              "created": created}
    if impact:
        native["impact"] = impact
    if indepth:
        native["submission"] = "S1"
    return action_to_task(native, "s", LOOKUP)


def summarise(*tasks) -> PracticeActions:
    actions = PracticeActions()
    for t in tasks:
        actions.add(t)
    return actions


def groups(report) -> dict:
    return {g["code"]["coding"][0]["code"]: g for g in report["group"]}


def test_impact_summary_counts_and_sums_per_unit():
    actions = summarise(
        task("A1", impact={"category": "time-saved", "value": 2, "unit": "hours/month"},
             created="2026-04-02T08:00:00Z"),
        task("A2", impact={"category": "time-saved", "value": 3.5, "unit": "hours/month"}),
        task("A3", impact={"category": "time-saved", "value": 100, "unit": "GBP"}),
        task("A4", impact={"category": "cost"}),
        task("A5", status="cancelled", impact={"category": "cost", "value": 9}, created="2026-09-30T08:00:00Z"))
    report = impact_summary("A81001", actions, "s")
    assert report["id"] == "impact-summary-A81001"
    assert report["measure"] == "https://fhir.dandthub.co.uk/Measure/impact-summary"
    assert report["extension"][0]["url"] == MEASURE_REPORT_SUBJECT
    assert report["period"] == {"start": "2026-04-02", "end": "2026-09-30"}
    assert [c["code"] for c in report["meta"]["security"]] == ["impact-summary", "practice", "R"]
    found = groups(report)
    assert list(found) == ["time-saved", "patient-access", "patient-safety", "cost", "staff-experience", "other"]
    assert found["time-saved"]["population"][0]["count"] == 3
    strata = {s["value"]["text"]: (s["population"][0]["count"], s["measureScore"])
              for s in found["time-saved"]["stratifier"][0]["stratum"]}
    assert strata == {"GBP": (1, {"value": 100, "unit": "GBP"}),
                      "hours/month": (2, {"value": 5.5, "unit": "hours/month"})}
    assert found["cost"]["population"][0]["count"] == 1 and "stratifier" not in found["cost"]  # cancelled left out
    assert [i for i in validate_resource(report) if i.severity == "error"] == []


def test_indepth_action_summary_counts_statuses_of_indepth_actions_only():
    actions = summarise(task("A1", indepth=True), task("A2", status="cancelled", indepth=True), task("A3"))
    report = indepth_action_summary("A81001", actions, "s")
    counts = {code: g["population"][0]["count"] for code, g in groups(report).items()}
    assert counts == {"proposed": 0, "agreed": 0, "in-progress": 1, "on-hold": 0, "completed": 0, "cancelled": 1}
    assert [c["code"] for c in report["meta"]["security"] if c["system"] == CS_DATA_TYPE] == ["indepth-action-summary"]
    assert [i for i in validate_resource(report) if i.severity == "error"] == []


def test_no_actions_no_reports():
    assert impact_summary("A81001", PracticeActions(), "s") is None
    assert indepth_action_summary("A81001", summarise(task("A1")), "s") is None


def test_retired_tasks_count_for_no_practice():
    assert practice_of(task("A1")) == "A81001"
    assert practice_of(retire_task(task("A1"))) is None
    assert practice_of({"resourceType": "Task", "status": "draft", "intent": "plan"}) is None


def test_provenance_names_the_package_and_the_versions():
    p = import_provenance("p1", "UPDATE", ["Task/A1/_history/2"], "2026-11-01T03:00:00.000Z", "hub",
                          "2026-11-01T02:00:00Z", "actions.ndjson")
    assert p["target"] == [{"reference": "Task/A1/_history/2"}]
    assert p["activity"]["coding"][0]["code"] == "UPDATE"
    assert p["agent"][0]["who"] == {"display": "dthub import"}
    assert p["entity"][0]["role"] == "source" and "hub" in p["entity"][0]["what"]["display"]
    assert "2026-11-01T02:00:00Z" in p["entity"][0]["what"]["display"]
    assert validate_resource(p) == []
