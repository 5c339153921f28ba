"""Format negotiation, ETags and instants: pure functions."""
from __future__ import annotations

import pytest

from adapter.formats.negotiation import JSON, XML, request_format, response_format
from adapter.interactions.preconditions import etag_matches, parse_etag, stored_instant
from adapter.outcomes import OperationOutcomeError


@pytest.mark.parametrize("accept, expected", [
    (None, JSON), ("", JSON), ("application/fhir+json", JSON), ("application/json", JSON),
    ("application/fhir+xml", XML), ("text/xml", XML), ("application/xml;q=0.5, application/json;q=0.9", JSON),
    ("application/fhir+json;fhirVersion=3.0, application/fhir+xml", XML), ("*/*", JSON),
])
def test_accept_header(accept, expected):
    assert response_format(None, accept) == expected


def test_format_parameter_wins_and_unknown_is_406():
    assert response_format("xml", "application/fhir+json") == XML
    with pytest.raises(OperationOutcomeError) as raised:
        response_format("csv", None)
    assert raised.value.status == 406


def test_request_content_types():
    assert request_format("application/fhir+json; charset=utf-8") == JSON
    assert request_format("application/xml") == XML
    for bad in (None, "text/plain", "application/fhir+json; fhirVersion=1.0"):
        with pytest.raises(OperationOutcomeError) as raised:
            request_format(bad)
        assert raised.value.status == 415


def test_etags():
    assert parse_etag('W/"12"', "If-Match") == 12
    assert parse_etag('"3"', "If-Match") == 3
    assert etag_matches('W/"1", W/"2"', 2) and etag_matches("*", 7) and not etag_matches('W/"1"', 2)
    with pytest.raises(OperationOutcomeError):
        parse_etag("W/abc", "If-Match")


def test_instants_normalise_to_sortable_utc():
    assert stored_instant("2026-05-10T11:22:00+01:00") == "2026-05-10T10:22:00.000Z"
    assert stored_instant("2026-05-10") == "2026-05-10T00:00:00.000Z"
    with pytest.raises(OperationOutcomeError):
        stored_instant("2026-05-10T10:22:00")
