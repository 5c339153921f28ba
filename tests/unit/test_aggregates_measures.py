"""The six shipped Measures: valid R4, built from the definitions the computation uses."""
from __future__ import annotations

import json
from importlib import resources

import pytest

from adapter.aggregates.build_measures import main as build_main
from adapter.aggregates.definitions import MEASURES, SCORE_BANDS, score_band
from adapter.policy.codes import DATA_TYPES
from tests.conformance import assert_conformant


def _shipped():
    return {e.name: json.loads(e.read_text()) for e in resources.files("adapter.aggregates.measures").iterdir()
            if e.name.endswith(".json")}


def test_one_measure_per_data_type_with_the_conventional_canonical():
    shipped = _shipped()
    assert sorted(shipped) == sorted(f"Measure-{d}.json" for d in DATA_TYPES)
    for body in shipped.values():
        assert body["url"] == f"https://fhir.dandthub.co.uk/Measure/{body['id']}" and body["status"] == "active"


@pytest.mark.parametrize("name", sorted(f"Measure-{d}.json" for d in DATA_TYPES))
def test_measures_are_valid_r4(name):
    assert_conformant(_shipped()[name])


def test_the_shipped_files_are_up_to_date_with_the_definitions():
    assert build_main(["--check"]) == 0


def test_every_group_defines_the_initial_population_and_the_stratifiers():
    for measure_id, body in ((n[8:-5], b) for n, b in _shipped().items()):
        definition = MEASURES[measure_id]
        assert len(body["group"]) == len(definition.groups)
        for group in body["group"]:
            codes = [p["code"]["coding"][0]["code"] for p in group["population"]]
            assert "initial-population" in codes
            assert [s["code"]["text"] for s in group.get("stratifier", [])] == [s.code for s in definition.stratifiers]


@pytest.mark.parametrize("percent, band", [(0, "0-24"), (24.99, "0-24"), (25, "25-49"), (74.9, "50-74"),
                                           (75, "75-100"), (100, "75-100")])
def test_score_bands(percent, band):
    assert score_band(percent) == band
    assert band in [b for b, _, _ in SCORE_BANDS]
