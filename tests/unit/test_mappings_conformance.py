"""What the mappers emit is R4 by the official artefacts (JSON schema, XSD, invariants), in JSON and XML."""
from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from adapter.formats.xml import to_xml
from mappings.kinds import BY_FILE
from mappings.schemas import load_record
from mappings.submission import submission_header
from mappings.types import dict_lookup
from tests.conformance import assert_conformant

PACKAGE = Path(__file__).resolve().parents[1] / "fixtures" / "packages" / "basic"


def natives(file: str) -> list[dict]:
    kind = BY_FILE[file].kind
    return [load_record(kind, orjson.loads(line))[0]
            for line in (PACKAGE / file).read_bytes().splitlines() if line.strip()]


def lookup():
    orgs, assessments = natives("organisations.ndjson"), natives("assessments.ndjson")
    base = dict_lookup(organisations=orgs, assessments=assessments)
    headers = [submission_header(BY_FILE["submissions.ndjson"].to_fhir(s, "s", base))
               for s in natives("submissions.ndjson")]
    return dict_lookup(organisations=orgs, assessments=assessments, submissions=headers)


def resources(file: str) -> list[dict]:
    fk = BY_FILE[file]
    return [fk.to_fhir(native, "dthub-test", lookup()) for native in natives(file)]


@pytest.mark.parametrize("file", ["submissions.ndjson", "actions.ndjson"])
def test_questionnaire_responses_and_tasks_conform(file):
    for resource in resources(file):
        assert_conformant(resource, to_xml(resource))


@pytest.mark.parametrize("file", ["organisations.ndjson", "assessments.ndjson", "usage.ndjson", "contracts.ndjson"])
def test_the_other_mappings_conform(file):
    for resource in resources(file):
        assert_conformant(resource, to_xml(resource))
