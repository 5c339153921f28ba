"""Every conformance and terminology resource we ship is valid FHIR R4, and consistent.

Covers every JSON file under profiles/ (ours and the vendored UK Core bases) and terminology/.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapter.formats.xml import parse_xml, to_xml
from adapter.shipped import shipped_resources
from adapter.validation import validate_resource
from profiles import build
from profiles.definitions import get_definitions
from tests.conformance import FIXTURE_DIR, assert_conformant

ROOT = Path(__file__).resolve().parents[2]
B = "https://fhir.dandthub.co.uk"
FILES = sorted([*(ROOT / "profiles").rglob("*.json"), *(ROOT / "terminology").rglob("*.json")])
OURS = [p for p in FILES if p.parent.name in ("profiles", "terminology")]
SHARED_UKCORE = ROOT.parent / "shared" / "ukcore"

PROFILES = {"dthub-organization": "Organization", "dthub-questionnaire": "Questionnaire",
            "dthub-questionnaireresponse": "QuestionnaireResponse", "dthub-task": "Task",
            "dthub-consent": "Consent", "dthub-measurereport": "MeasureReport"}
EXTENSIONS = {"score": ["QuestionnaireResponse", "QuestionnaireResponse.item"],
              "question-link-id": ["Task.reasonReference"], "practice-icb": ["Organization"],
              "cell-icb": ["MeasureReport"],
              "federation-membership": ["Organization"], "list-size": ["Organization"],
              "contract-status": ["Consent"], "audience-role": ["Consent.provision"]}


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", FILES, ids=_name)
def test_file_passes_the_base_validator(path):
    errors = [i for i in validate_resource(_load(path)) if i.severity in ("error", "fatal")]
    assert errors == []


@pytest.mark.parametrize("path", FILES, ids=_name)
def test_file_is_conformant_r4_in_json_and_xml(path):
    resource = _load(path)
    assert_conformant(resource, to_xml(resource))


@pytest.mark.parametrize("path", OURS, ids=_name)
def test_our_files_carry_the_common_metadata(path):
    r = _load(path)
    assert path.name == f"{r['resourceType']}-{r['id']}.json"
    assert r["url"] == f"{B}/{r['resourceType']}/{r['id']}"
    assert (r["version"], r["status"], r["publisher"]) == ("1.0.0", "active", "D&T Hub")
    assert r["date"] and r["description"] and r["name"][0].isupper()
    assert r["text"]["status"] == "generated"


def test_ours_are_shipped_and_the_vendored_uk_core_is_not():
    """adapter/shipped.py serves profiles/*-*.json and terminology/*-*.json, not ukcore/."""
    shipped = {(r["resourceType"], r["id"], r.get("url")) for r in shipped_resources()}
    assert {(_load(p)["resourceType"], _load(p)["id"], _load(p)["url"]) for p in OURS} <= shipped
    assert not [s for s in shipped if (s[2] or "").startswith("https://fhir.hl7.org.uk/")]


def test_the_agreed_profiles_and_extensions_exist():
    sds = {_load(p)["id"]: _load(p) for p in OURS if p.name.startswith("StructureDefinition-")}
    assert set(sds) == set(PROFILES) | set(EXTENSIONS)
    for id_, rtype in PROFILES.items():
        sd = sds[id_]
        assert (sd["kind"], sd["type"], sd["derivation"], sd["abstract"]) == ("resource", rtype, "constraint", False)
        assert sd["snapshot"]["element"] and sd["differential"]["element"]
    for id_, contexts in EXTENSIONS.items():
        sd = sds[id_]
        assert (sd["kind"], sd["type"], sd["derivation"]) == ("complex-type", "Extension", "constraint")
        assert [c["expression"] for c in sd["context"]] == contexts


@pytest.mark.parametrize("id_", [p for p in PROFILES if p != "dthub-measurereport"])
def test_profiles_derive_from_uk_core(id_):
    sd = _load(ROOT / "profiles" / f"StructureDefinition-{id_}.json")
    base = sd["baseDefinition"]
    assert base.startswith("https://fhir.hl7.org.uk/StructureDefinition/UKCore-")
    assert _load(ROOT / "profiles" / "ukcore" / f"{base.rsplit('/', 1)[1]}.json")["url"] == base


def test_measurereport_profile_derives_from_core_r4():
    sd = _load(ROOT / "profiles" / "StructureDefinition-dthub-measurereport.json")
    assert sd["baseDefinition"] == "http://hl7.org/fhir/StructureDefinition/MeasureReport"


def test_definitions_compile_and_every_binding_resolves():
    definitions = get_definitions()  # raises on an unknown ValueSet or discriminator
    assert len(definitions.by_url) == len(PROFILES) + len(EXTENSIONS)


@pytest.mark.parametrize("path", sorted((ROOT / "profiles").glob("StructureDefinition-*.json")), ids=_name)
def test_snapshot_is_generated_from_the_current_differential(path):
    sd = _load(path)
    regenerated = build.with_snapshot(sd, build.resolver(FIXTURE_DIR / "definitions"))
    assert regenerated == sd, "stale snapshot: run `python -m profiles.build`"


def test_snapshot_holds_the_profile_constraints():
    sd = _load(ROOT / "profiles" / "StructureDefinition-dthub-organization.json")
    snapshot = {e["id"]: e for e in sd["snapshot"]["element"]}
    ods = snapshot["Organization.identifier:odsOrganisationCode"]
    assert (ods["min"], ods["max"], ods["sliceName"]) == (1, "1", "odsOrganisationCode")  # ours + UK Core
    assert snapshot["Organization.identifier:odsOrganisationCode.system"]["fixedUri"] == \
        "https://fhir.nhs.uk/Id/ods-organization-code"
    assert snapshot["Organization.extension:listSize"]["max"] == "1"  # from the extension's definition
    assert [c["key"] for c in snapshot["Organization.identifier:odsOrganisationCode.value"]["constraint"]][-1] == "dthub-org-1"


@pytest.mark.skipif(not SHARED_UKCORE.exists(), reason="../shared/ukcore is not on this machine")
@pytest.mark.parametrize("name", build.UKCORE_BASES)
def test_vendored_uk_core_is_the_shared_original(name):
    original = parse_xml((SHARED_UKCORE / f"{name}.xml").read_bytes())
    assert _load(ROOT / "profiles" / "ukcore" / f"{name}.json") == original
