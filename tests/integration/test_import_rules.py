"""Every rejection rule of hub-export.md, on the hand-written `bad` package: each rejected record
is reported with its file, line, field and reason, and the rest of the package is imported."""
from __future__ import annotations

from pathlib import Path

import pytest

from adapter.importer import import_package
from adapter.storage import Repository, make_engine, migrate

BAD = Path(__file__).resolve().parents[1] / "fixtures" / "packages" / "bad"

# (file, line, field, words of the reason)
EXPECTED = [
    ("organisations.ndjson", 3, "name", "Missing data for required field"),
    ("organisations.ndjson", 4, "ods_code", "is not an ODS code"),
    ("organisations.ndjson", 5, "parent", "U00000 is not known"),
    ("organisations.ndjson", 6, "icb", "a practice needs its ICB"),
    ("organisations.ndjson", 7, "kind", "must be one of"),
    ("organisations.ndjson", 9, "list_size", "greater than or equal to 0"),
    ("organisations.ndjson", 10, "active", "Not a boolean"),
    ("organisations.ndjson", 11, "(line)", "not a JSON object"),
    ("organisations.ndjson", 12, "parent", "a PCN needs its lead ICB"),
    ("organisations.ndjson", 13, "parent", "QHM is an ICB, not a PCN"),
    ("organisations.ndjson", 16, "(line)", "not a JSON object"),
    ("assessments.ndjson", 2, "theme", "needs its theme"),
    ("assessments.ndjson", 3, "sections[0].questions[0].options", "needs options"),
    ("assessments.ndjson", 4, "sections[0].questions[1].id", "used twice"),
    ("assessments.ndjson", 5, "sections[0].questions[0].enable_when.question", "not an earlier question"),
    ("assessments.ndjson", 6, "sections[0].questions[0].type", "must be one of"),
    ("assessments.ndjson", 7, "status", "must be one of"),
    ("submissions.ndjson", 2, "answers[1].question", "unknown question 'XX9'"),
    ("submissions.ndjson", 3, "answers[0].value", "wrong type"),
    ("submissions.ndjson", 4, "answers[1].value", "unknown option code '9'"),
    ("submissions.ndjson", 5, "answers[1].question", "is not enabled"),
    ("submissions.ndjson", 6, "answers", "required question 'IN2' is not answered"),
    ("submissions.ndjson", 7, "practice", "Z99999 is not known"),
    ("submissions.ndjson", 8, "assessment_version", "version 2025.9 is not known"),
    ("submissions.ndjson", 9, "submitted", "needs its submitted time"),
    ("submissions.ndjson", 11, "status", "must be one of"),
    ("submissions.ndjson", 12, "started", "not a time with a zone"),
    ("submissions.ndjson", 13, "answers[0].value", "expected a list of option codes"),
    ("actions.ndjson", 2, "submission", "S-404 is not known"),
    ("actions.ndjson", 3, "question", "unknown question 'ZZ1'"),
    ("actions.ndjson", 4, "completed", "needs its completed time"),
    ("actions.ndjson", 5, "owner.organisation", "not the practice, its PCN or its ICB"),
    ("actions.ndjson", 6, "impact.category", "must be one of"),
    ("actions.ndjson", 7, "practice", "Z99999 is not known"),
    ("actions.ndjson", 8, "question", "only together with its submission"),
    ("actions.ndjson", 9, "priority", "must be one of"),
    ("actions.ndjson", 10, "submission", "is of practice A81002, not A81001"),
    ("usage.ndjson", 2, "logins", "greater than or equal to 0"),
    ("usage.ndjson", 3, "period", "not a month"),
    ("usage.ndjson", 4, "organisation", "Z99999 is not known"),
    ("usage.ndjson", 5, "organisation", "FED01 is a federation"),
    ("usage.ndjson", 6, "active_users", "Not a valid integer"),
    ("contracts.ndjson", 2, "covers", "must list the practices it covers"),
    ("contracts.ndjson", 3, "holder", "QHM is an ICB, not a PCN"),
    ("contracts.ndjson", 4, "covers[0]", "Z99999 is not known"),
    ("contracts.ndjson", 5, "end", "before it starts"),
    ("contracts.ndjson", 6, "status", "must be one of"),
    ("contracts.ndjson", 7, "covers", "an empty list covers no practice"),
]
IMPORTED = {  # what the rest of the package made
    "Organization": ["A81001", "A81002", "FED01", "QHM", "U89141"],
    "Questionnaire": ["global-2026.1", "telephony-2026.1"],
    "QuestionnaireResponse": ["S-1", "S-10", "S-14"],
    "Task": ["A-1", "A-11"],
    "Consent": ["C-QHM-2026"],
}


@pytest.fixture
def imported(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    repo = Repository(engine)
    yield repo, import_package(repo, BAD)
    engine.dispose()


def test_each_rejection_is_reported_with_file_line_field_and_reason(imported):
    _repo, report = imported
    found = {(r["file"], r["line"]): r for r in report.rejected}
    for file, line, field, reason in EXPECTED:
        entry = found.get((file, line))
        assert entry is not None, f"{file}:{line} was not rejected"
        assert entry["field"] == field and reason in entry["reason"], entry
    assert len(report.rejected) == len(EXPECTED)
    assert report.exit_code == 1


def test_rejections_are_listed_in_line_order_per_file(imported):
    _repo, report = imported
    assert [(r["file"], r["line"]) for r in report.rejected] == [(f, n) for f, n, _, _ in EXPECTED]


def test_the_rest_of_the_package_is_imported(imported):
    repo, report = imported
    for resource_type, ids in IMPORTED.items():
        assert sorted(v.id for v in repo.iter_current(resource_type)) == sorted(ids)
    assert [v.id for v in repo.iter_current("MeasureReport") if v.id.startswith("usage-")] == ["usage-A81001-2026-10"]
    counts = {name: (c.read, c.created, c.rejected) for name, c in report.files.items()}
    assert counts == {"organisations.ndjson": (16, 5, 11), "assessments.ndjson": (8, 2, 6),
                      "submissions.ndjson": (14, 3, 11), "actions.ndjson": (11, 2, 9),
                      "usage.ndjson": (6, 1, 5), "contracts.ndjson": (7, 1, 6)}


def test_warnings_name_the_unknown_file_and_field(imported):
    _repo, report = imported
    assert list(report.warnings) == [
        {"field": "notes.txt", "message": "unknown file 'notes.txt' in the package, ignored"},
        {"file": "organisations.ndjson", "line": 8, "key": "A81001", "field": "colour",
         "message": "unknown field, ignored"}]


def test_the_report_is_json_with_every_entry(imported, tmp_path):
    import orjson

    _repo, report = imported
    with open(tmp_path / "report.json", "wb") as out:
        report.write_json(out)
    written = orjson.loads((tmp_path / "report.json").read_bytes())
    assert written["exit_code"] == 1 and written["totals"]["rejected"] == len(EXPECTED)
    assert written["rejected"] == list(report.rejected) and written["warnings"] == list(report.warnings)
    assert written["files"]["usage.ndjson"]["rejected"] == 5
