"""The shipped tier Consents: valid R4 and valid by our profiles, a faithful copy of the policy's
tables, and the only place the engine reads the tables from."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from adapter.auth.principal import Principal
from adapter.auth.scopes import ScopeSet
from adapter.formats.xml import to_xml
from adapter.policy import Hierarchy, effective_grants, load_tiers, shipped_tiers
from adapter.policy.tiers import CONSENTS_DIR, tier_from_consent
from profiles.validate import validate_all
from tests.conformance import assert_conformant
from tests.policy_oracle import DATA_TYPES, LEVELS, OPERATIONAL, PURPOSES, TABLES, TODAY

FILES = sorted(CONSENTS_DIR.glob("Consent-policy-*.json"))
# Which of the oracle's tables each audience role's tier must be.
TABLE_OF_ROLE = {"external": "Ext", "icb": "ICB-c", "pcn": "PCN-c", "federation": "PCN-c", "service": "Svc",
                 "practice": "Own"}


def test_one_tier_per_audience_role_is_shipped():
    assert {t.role for t in shipped_tiers()} == set(TABLE_OF_ROLE)
    assert {f.name for f in FILES} == {f"Consent-{t.id}.json" for t in shipped_tiers()}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_tier_consent_is_valid_r4_and_valid_by_our_profiles(path):
    consent = json.loads(path.read_text(encoding="utf-8"))
    errors = [i for i in validate_all(consent) if i.severity in ("error", "fatal")]
    assert not errors, errors
    assert_conformant(consent, to_xml(consent))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_tier_consent_has_the_conventions_shape(path):
    consent = json.loads(path.read_text(encoding="utf-8"))
    assert consent["status"] == "active"
    assert consent["scope"]["coding"][0]["code"] == "data-use-agreement"
    assert consent["category"][0]["coding"][0]["code"] == "IDSCL"
    assert consent["policyRule"]["coding"][0]["code"] == "data-use-policy"
    root = consent["provision"]
    assert "actor" not in root and "type" not in root  # R4: no type on the root rule
    assert [e["url"].rsplit("/", 1)[1] for e in root["extension"]] == ["audience-role"]
    assert root["provision"] and all(p["type"] == "permit" for p in root["provision"])


@pytest.mark.parametrize("tier", list(shipped_tiers()), ids=lambda t: t.id)
def test_tier_is_the_policy_table(tier):
    table = TABLES[TABLE_OF_ROLE[tier.role]]
    purposes = frozenset(PURPOSES) if tier.role == "external" else OPERATIONAL
    for data_type in DATA_TYPES:
        for level in LEVELS:
            want = purposes if level in table[data_type] else frozenset()
            assert tier.purposes(data_type, level) == want, (data_type, level)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_tier_narrative_lists_the_same_cells_as_its_provisions(path):
    consent = json.loads(path.read_text(encoding="utf-8"))
    tier = tier_from_consent(consent)
    names = {"Global Assessment Data": "global-assessment", "In-depth Assessment Data": "indepth-assessment",
             "Action Data": "actions", "Impact Summary": "impact-summary",
             "In-depth Action Summary": "indepth-action-summary", "Usage and uptake data": "usage"}
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td></tr>", consent["text"]["div"])
    narrated = {(names[d], level.split(" ")[0].lower()) for d, levels in rows for level in levels.split(", ")}
    assert narrated == set(tier.cells)


def test_changing_a_tier_file_changes_the_policy(tmp_path: Path):
    for path in FILES:
        shutil.copy(path, tmp_path / path.name)
    baseline = tmp_path / "Consent-policy-baseline.json"
    consent = json.loads(baseline.read_text())
    usage = next(p for p in consent["provision"]["provision"] if p["securityLabel"][0]["code"] == "usage")
    usage["securityLabel"] = [c for c in usage["securityLabel"] if c["code"] != "practice"]
    baseline.write_text(json.dumps(consent))
    external = Principal("ext", None, "external", ScopeSet(), "HMARKT")
    hierarchy = Hierarchy.build([])
    before = effective_grants(external, hierarchy, (), (), TODAY, load_tiers(CONSENTS_DIR))
    after = effective_grants(external, hierarchy, (), (), TODAY, load_tiers(tmp_path))
    assert before.can_aggregate("usage", "practice") and not after.can_aggregate("usage", "practice")
    assert after.can_aggregate("usage", "pcn")


def test_an_inactive_tier_grants_nothing():
    consent = json.loads((CONSENTS_DIR / "Consent-policy-service.json").read_text())
    assert tier_from_consent({**consent, "status": "inactive"}).cells == {}


@pytest.mark.parametrize("breakage", [
    lambda c: c["provision"].update(extension=[]),
    lambda c: c["provision"].update(type="permit"),
    lambda c: c["provision"]["provision"][0].update(type="deny"),
    lambda c: c["provision"]["provision"][0]["securityLabel"].append({"system": "urn:x", "code": "y"}),
    lambda c: c["provision"]["provision"][0]["securityLabel"][0].update(code="secret"),
    lambda c: c["provision"]["provision"][0].update(purpose=[]),
], ids=["no-role", "root-type", "deny", "foreign-label", "unknown-data-type", "no-purpose"])
def test_a_malformed_tier_fails_loudly_at_load(breakage):
    consent = json.loads((CONSENTS_DIR / "Consent-policy-baseline.json").read_text())
    breakage(consent)
    with pytest.raises(ValueError):
        tier_from_consent(consent)


def test_two_tiers_for_one_role_are_refused(tmp_path: Path):
    for path in FILES:
        shutil.copy(path, tmp_path / path.name)
    twin = json.loads((CONSENTS_DIR / "Consent-policy-pcn-contract.json").read_text())
    twin["id"] = "policy-pcn-twin"
    (tmp_path / "Consent-policy-pcn-twin.json").write_text(json.dumps(twin))
    with pytest.raises(ValueError, match="both apply to role pcn"):
        load_tiers(tmp_path)


def test_tier_consents_are_served_as_copies():
    served = shipped_tiers().consents()
    served[0]["status"] = "inactive"
    assert all(c["status"] == "active" for c in shipped_tiers().consents())
