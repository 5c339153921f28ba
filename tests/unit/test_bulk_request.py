"""The pure parts of $export: _since as the store's instants, and what a job writes."""
from __future__ import annotations

import pytest

from adapter.bulk.request import ExportRequest, stored_instant
from adapter.bulk.runner import AGGREGATES, units
from adapter.outcomes import OperationOutcomeError


@pytest.mark.parametrize("given, stored", [
    ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000Z"),
    ("2026-01-01T01:30:00+01:30", "2026-01-01T00:00:00.000Z"),
    ("2026-06-30T23:59:59.123456789-02:00", "2026-07-01T01:59:59.123Z"),
])
def test_since_becomes_the_stores_utc_instant(given, stored):
    assert stored_instant(given) == stored


@pytest.mark.parametrize("bad", ["2026-01-01", "2026-01-01T00:00Z", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z"])
def test_since_without_seconds_or_zone_is_refused(bad):
    with pytest.raises(OperationOutcomeError) as refused:
        stored_instant(bad)
    assert refused.value.status == 400


def test_aggregates_follow_measure_reports_unless_a_filter_picks_stored_ones():
    assert units(ExportRequest(types=("Task", "MeasureReport"))) == ["Task", "MeasureReport", AGGREGATES]
    assert units(ExportRequest(types=("Task",))) == ["Task"]
    filtered = ExportRequest(types=("MeasureReport",), filters={"MeasureReport": [[("status", "complete")]]})
    assert units(filtered) == ["MeasureReport"]


def test_a_request_round_trips_through_its_stored_json():
    request = ExportRequest(types=("Task",), since="2026-01-01T00:00:00.000Z",
                            filters={"Task": [[("status", "requested")], [("subject", "Organization/A1")]]},
                            organization="QK1", ignored=("patient",))
    import orjson

    assert ExportRequest.from_json(orjson.loads(orjson.dumps(request.to_json()))) == request
