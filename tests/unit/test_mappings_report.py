"""The import report: exit codes, spilling to disk, streamed JSON, the terminal summary."""
from __future__ import annotations

import io

import orjson

from mappings.report import ImportReport, Spill


def test_spill_keeps_order_past_its_memory_limit():
    spill = Spill(limit=3)
    for n in range(10):
        spill.append({"n": n})
    assert len(spill) == 10 and [x["n"] for x in spill] == list(range(10))
    spill.append({"n": 10})  # appending after reading still works
    assert [x["n"] for x in spill][-2:] == [9, 10]
    spill.close()


def test_exit_codes():
    report = ImportReport("p")
    assert report.exit_code == 0
    report.reject("usage.ndjson", 2, "A|2026-10", [("logins", "negative"), ("period", "bad")])
    assert report.exit_code == 1
    report.refused = "bad manifest"
    assert report.exit_code == 2


def test_json_report_streams_every_entry():
    report = ImportReport("p")
    report.manifest = {"source": "s", "mode": "incremental"}
    report.rejected = Spill(limit=1)
    report.reject("usage.ndjson", 2, "k", [("logins", "negative"), ("period", "bad")])
    report.reject("usage.ndjson", 5, "k2", [("logins", "negative")])
    report.warn("unknown field, ignored", file="usage.ndjson", line=2, field="x", key="k")
    report.counts("usage.ndjson").read = 6
    report.finish()
    out = io.BytesIO()
    report.write_json(out)
    written = orjson.loads(out.getvalue())
    assert written["rejected"] == [
        {"file": "usage.ndjson", "line": 2, "key": "k", "field": "logins", "reason": "negative",
         "more": [{"field": "period", "reason": "bad"}]},
        {"file": "usage.ndjson", "line": 5, "key": "k2", "field": "logins", "reason": "negative"}]
    assert written["warnings"] == [{"file": "usage.ndjson", "line": 2, "key": "k", "field": "x",
                                    "message": "unknown field, ignored"}]
    assert written["files"]["usage.ndjson"]["rejected"] == 2 and written["files"]["usage.ndjson"]["warnings"] == 1
    assert written["rejected"] == report.as_dict()["rejected"]
    text = report.summary_text()
    assert "rejected usage.ndjson:2 logins: negative" in text and "1 warning(s)" in text
