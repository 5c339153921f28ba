"""The export schemas: strict JSON types, formats, canonical form, unknown fields; process_line."""
from __future__ import annotations

import orjson
import pytest

from adapter.outcomes import Issue
from mappings.kinds import BY_FILE
from mappings.records import process_line
from mappings.schemas import SCHEMAS, load_record, unknown_fields
from mappings.types import dict_lookup


@pytest.mark.parametrize("kind,record,field", [
    ("organisation", {"ods_code": "A81001", "kind": "practice", "name": "X", "active": 1}, "active"),
    ("organisation", {"ods_code": "A81001", "kind": "practice", "name": "X", "list_size": "12"}, "list_size"),
    ("organisation", {"ods_code": "A81001", "kind": "practice", "name": "X", "list_size": 1.5}, "list_size"),
    ("organisation", {"ods_code": "A81001", "kind": "practice", "name": ""}, "name"),
    ("organisation", {"ods_code": "a-1", "kind": "practice", "name": "X"}, "ods_code"),
    ("usage", {"organisation": "A81001", "period": "2026-10", "logins": True}, "logins"),
    ("usage", {"organisation": "A81001", "period": "2026-10", "logins": 2**31}, "logins"),
    ("usage", {"organisation": "A81001", "period": "2026-1"}, "period"),
    ("contract", {"id": "C 1", "holder": "QHM", "kind": "icb", "start": "2026-04-01", "end": "2027-03-31",
                  "status": "active"}, "id"),
    ("contract", {"id": "C1", "holder": "QHM", "kind": "icb", "start": "2026-02-30", "end": "2027-03-31",
                  "status": "active"}, "start"),
    ("action", {"id": "A1", "practice": "A81001", "title": "T", "status": "proposed",
                "created": "2026-05-11T08:00Z"}, "created"),
    ("action", {"id": "A1", "practice": "A81001", "title": "T", "status": "proposed",
                "created": "2026-05-11T08:00:00"}, "created"),
    ("action", {"id": "A1", "practice": "A81001", "title": "T", "status": "proposed",
                "created": "2026-05-11T08:00:00Z", "impact": {"category": "cost", "value": "12"}}, "impact.value"),
    ("submission", {"id": "S1", "assessment": "global", "assessment_version": "2026-1", "practice": "A81001",
                    "status": "in-progress"}, "assessment_version"),
    ("assessment", {"id": "g", "version": "1", "kind": "global", "title": "T", "status": "active",
                    "sections": [{"id": "s", "title": "S", "questions": []}]}, "sections[0].questions"),
    ("assessment", {"id": "g", "version": "1", "kind": "global", "title": "T", "status": "active",
                    "sections": [{"id": "s", "title": "S", "questions": [
                        {"id": "q", "text": "q", "type": "choice",
                         "options": [{"code": "a", "label": "A", "score": -1}]}]}]},
     "sections[0].questions[0].options[0].score"),
])
def test_field_errors_name_the_field(kind, record, field):
    loaded, problems = load_record(kind, record)
    assert loaded is None
    assert field in [f for f, _ in problems], problems


def test_times_keep_their_lexical_form():
    loaded, _ = load_record("action", {"id": "A1", "practice": "A81001", "title": "T", "status": "proposed",
                                       "created": "2026-05-11T08:00:00.123+01:00"})
    assert loaded["created"] == "2026-05-11T08:00:00.123+01:00"


def test_missing_required_fields():
    _, problems = load_record("submission", {})
    assert {f for f, _ in problems} == {"id", "assessment", "assessment_version", "practice", "status"}


def test_unknown_fields_are_found_at_every_depth():
    record = {"id": "S1", "extra": 1, "author": {"name": "X", "phone": "1"},
              "answers": [{"question": "Q", "value": 1}, {"question": "R", "value": 2, "note": "n"}]}
    assert unknown_fields(SCHEMAS["submission"], record) == ["extra", "author.phone", "answers[1].note"]
    scores = {"id": "g", "sections": [{"id": "s", "questions": [{"id": "q", "scores": {"true": 1, "maybe": 2}}]}]}
    assert unknown_fields(SCHEMAS["assessment"], scores) == ["sections[0].questions[0].scores.maybe"]


def _process(raw: bytes, validate=lambda resource: [], file="usage.ndjson"):
    lookup = dict_lookup(organisations=[{"ods_code": "A81001", "kind": "practice", "icb": "QHM", "active": True,
                                         "name": "X"}])
    return process_line(BY_FILE[file], 7, raw, lookup=lookup, source="s", validate=validate)


def test_process_line_maps_a_good_record():
    outcome = _process(orjson.dumps({"organisation": "A81001", "period": "2026-10", "logins": 3, "mood": "ok"}))
    assert outcome.problems == [] and outcome.resource["id"] == "usage-A81001-2026-10"
    assert outcome.warnings == [("mood", "unknown field, ignored")]
    assert (outcome.line, outcome.key, outcome.resource_id) == (7, "A81001|2026-10", "usage-A81001-2026-10")


@pytest.mark.parametrize("raw,reason", [(b'{"organisation": ', "not a JSON object"), (b"[1]", "not a JSON object"),
                                        (b'"x"', "not a JSON object"), (b"\xff\xfe", "not a JSON object")])
def test_process_line_rejects_what_is_not_a_record(raw, reason):
    outcome = _process(raw)
    assert outcome.resource is None and outcome.problems[0][0] == "(line)" and reason in outcome.problems[0][1]


def test_process_line_rejects_on_fhir_errors_and_keeps_fhir_warnings():
    def validate(_resource):
        return [Issue("error", "value", "bad value", ("MeasureReport.group[0]",)),
                Issue("warning", "informational", "just so you know", ())]
    outcome = _process(orjson.dumps({"organisation": "A81001", "period": "2026-10"}), validate)
    assert outcome.resource is None
    assert outcome.problems == [("MeasureReport.group[0]", "invalid FHIR: bad value")]
    assert outcome.warnings == [("(resource)", "FHIR warning: just so you know")]


def test_organisation_passes_skip_other_kinds():
    raw = orjson.dumps({"ods_code": "QHM", "kind": "icb", "name": "X"})
    lookup = dict_lookup()
    common = dict(lookup=lookup, source="s", validate=lambda r: [])
    fk = BY_FILE["organisations.ndjson"]
    assert process_line(fk, 1, raw, organisation_pass="pcn", **common).skipped
    assert process_line(fk, 1, raw, organisation_pass="icb", **common).resource["id"] == "QHM"
    # a broken line is reported once, in the last pass
    assert process_line(fk, 2, b"{", organisation_pass="icb", **common).skipped
    assert process_line(fk, 2, b"{", organisation_pass="practice", **common).problems


def test_mappings_import_neither_flask_nor_a_database_layer():
    import subprocess
    import sys

    code = ("import sys, mappings.kinds, mappings.records, mappings.package, mappings.report, mappings.summaries, "
            "mappings.provenance; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('flask', 'sqlalchemy', 'psycopg', 'sqlite3', 'adapter')]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
