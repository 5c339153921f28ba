"""`dthub demo`: a synthetic export package on the real ODS hierarchy, valid by an independent checker."""
from __future__ import annotations

import zipfile
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest

from adapter.cli import main
from adapter.demo import DemoOptions, PackageError, generate
from tests.unit.test_demo_checker import SPEC_FILES, check_package, read_package, read_records

TODAY = date(2026, 11, 1)


def financial_quarter(moment: str) -> str:
    year, month = int(moment[:4]), int(moment[5:7])
    return f"{year if month >= 4 else year - 1}Q{(month - 4) % 12 // 3 + 1}"


@pytest.fixture(scope="module")
def default_package(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "package"
    generate(out, DemoOptions(seed=1))
    return out


@pytest.fixture(scope="module")
def records(default_package):
    return {name: read_records(default_package, name)
            for name in ("organisations", "assessments", "submissions", "actions", "usage", "contracts")}


def by_kind(records, kind):
    return {o["ods_code"]: o for o in records["organisations"] if o["kind"] == kind}


# --- validity and reproducibility ----------------------------------------------------------------

def test_default_package_satisfies_every_rule_of_the_spec(default_package):
    assert check_package(default_package) == []


def test_default_package_holds_every_spec_file_and_nothing_else(default_package):
    assert sorted(p.name for p in default_package.iterdir()) == sorted(SPEC_FILES)


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path):
    first = generate(tmp_path / "a", DemoOptions(seed=7, practices=40))
    second = generate(tmp_path / "b", DemoOptions(seed=7, practices=40))
    other = generate(tmp_path / "c", DemoOptions(seed=8, practices=40))
    a, b, c = (read_package(s.path)[0] for s in (first, second, other))
    assert a == b
    assert a["organisations.ndjson"] != c["organisations.ndjson"]  # list sizes, federation members
    assert a["submissions.ndjson"] != c["submissions.ndjson"]
    assert a["assessments.ndjson"] == c["assessments.ndjson"]  # the forms do not depend on the seed


def test_a_practice_gets_the_same_records_whatever_else_is_in_the_package(tmp_path):
    small = read_records(generate(tmp_path / "small", DemoOptions(seed=3, practices=20)).path, "submissions")
    large = read_records(generate(tmp_path / "large", DemoOptions(seed=3, practices=60)).path, "submissions")
    in_small = {s["practice"] for s in small}
    assert small == [s for s in large if s["practice"] in in_small]


# --- organisations --------------------------------------------------------------------------------

def test_default_package_is_two_whole_icbs_of_moderate_size(records):
    icbs, pcns, practices = (by_kind(records, k) for k in ("icb", "pcn", "practice"))
    assert set(icbs) == {"QK1", "QJM"}
    assert Counter(p["icb"] for p in practices.values()) == {"QK1": 134, "QJM": 85}
    assert len(pcns) == 39
    assert all(p["active"] is True and p["postcode"] and 900 <= p["list_size"] <= 60000 for p in practices.values())
    assert 7000 < sum(p["list_size"] for p in practices.values()) / len(practices) < 13000


def test_a_pcn_spanning_two_icbs_is_kept_with_its_lead_icb_as_parent(records):
    pcns, practices = by_kind(records, "pcn"), by_kind(records, "practice")
    members = defaultdict(list)
    for p in practices.values():
        if p["parent"]:
            members[p["parent"]].append(p["icb"])
    spanning = {code: Counter(icbs) for code, icbs in members.items() if len(set(icbs)) > 1}
    assert spanning == {"U25294": Counter({"QK1": 4, "QJM": 1})}  # Melton, Syston and Vale PCN
    for code, icbs in members.items():
        top = max(Counter(icbs).values())
        assert Counter(icbs)[pcns[code]["parent"]] == top, code  # the lead ICB holds most of its practices


def test_practices_in_no_pcn_have_a_null_parent_and_their_own_icb(records):
    practices = by_kind(records, "practice")
    loose = sorted(code for code, p in practices.items() if p["parent"] is None)
    assert loose == ["C83042", "Y03584", "Y05412"]
    assert all(practices[code]["icb"] in ("QK1", "QJM") for code in loose)


def test_federations_group_practices_of_one_icb(records):
    feds, practices = by_kind(records, "federation"), by_kind(records, "practice")
    assert len(feds) >= 4
    members = defaultdict(set)
    for p in practices.values():
        for fed in p["federations"]:
            members[fed].add(p["icb"])
    assert set(members) == set(feds)
    assert all(icbs == {feds[f]["parent"]} for f, icbs in members.items())
    assert any(len(p["federations"]) == 2 for p in practices.values())
    assert any(not p["federations"] for p in practices.values())


# --- assessments ----------------------------------------------------------------------------------

def test_global_assessment_has_the_seven_sections_and_every_question_type(records):
    forms = {(a["id"], a["version"]): a for a in records["assessments"]}
    assert {k for k in forms if k[0] == "global"} == {("global", "2025.1"), ("global", "2026.1")}
    current = forms["global", "2026.1"]
    assert current["status"] == "active" and forms["global", "2025.1"]["status"] == "retired"
    assert [s["id"] for s in current["sections"]] == [
        "leadership", "infrastructure", "workforce", "patient-access", "care-navigation",
        "data-interoperability", "innovation"]
    assert all(3 <= len(s["questions"]) <= 6 for s in current["sections"])
    questions = [q for s in current["sections"] for q in s["questions"]]
    assert {q["type"] for q in questions} == {"boolean", "choice", "multi-choice", "integer", "decimal", "text", "date"}
    assert sum("enable_when" in q for q in questions) >= 4
    assert 0 < sum(q["required"] for q in questions) < len(questions)


def test_in_depth_assessments_have_one_theme_each(records):
    indepth = [a for a in records["assessments"] if a["kind"] == "indepth"]
    themes = {a["theme"] for a in indepth if a["status"] == "active"}
    assert {"telephony", "online-consultation", "cyber-security", "digital-inclusion"} <= themes
    assert all(a["id"] == a["theme"] for a in indepth)
    assert any(a["status"] == "draft" for a in indepth)


# --- submissions ----------------------------------------------------------------------------------

def test_most_practices_complete_the_global_assessment_over_several_quarters(records):
    subs = records["submissions"]
    practices = by_kind(records, "practice")
    done = {s["practice"] for s in subs if s["assessment"] == "global" and s["status"] in ("completed", "amended")}
    assert len(done) > 0.8 * len(practices)
    assert Counter(s["status"] for s in subs).keys() == {"completed", "in-progress", "amended", "entered-in-error"}
    statuses = Counter(s["status"] for s in subs)
    assert statuses["entered-in-error"] < statuses["amended"] < statuses["completed"]
    quarters = {financial_quarter(s["started"]) for s in subs}
    assert {"2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2"} <= quarters
    assert max(s["submitted"] or s["started"] for s in subs) < "2026-11-01"
    # Each submission answers the Global Assessment version of its own financial year.
    for s in subs:
        if s["assessment"] == "global":
            assert s["assessment_version"] == f"{financial_quarter(s['started'])[:4]}.1"
    assert 0.1 < len({s["practice"] for s in subs if s["assessment"] != "global"}) / len(practices) < 0.6


# --- actions and usage ----------------------------------------------------------------------------

def test_actions_cover_every_status_owner_level_and_several_impact_units(records):
    actions = records["actions"]
    pcns, icbs = by_kind(records, "pcn"), by_kind(records, "icb")
    assert {a["status"] for a in actions} == {"proposed", "agreed", "in-progress", "on-hold", "completed", "cancelled"}
    assert {a["priority"] for a in actions} == {"routine", "urgent"}
    owners = Counter("pcn" if a["owner"]["organisation"] in pcns else "icb" if a["owner"]["organisation"] in icbs
                     else "practice" for a in actions)
    assert owners["practice"] > owners["pcn"] > 0 and owners["icb"] > 0
    assert {"hours/month", "£/year", "patients/month"} <= {a["impact"]["unit"] for a in actions if a["impact"]}
    assert all((a["completed"] is not None) == (a["status"] == "completed") for a in actions)
    assert any(a["notes"] for a in actions)
    with_actions = {a["practice"] for a in actions}
    assert 0.2 < len(with_actions) / len(by_kind(records, "practice")) < 0.8


def test_usage_has_twelve_months_for_practices_and_some_pcn_and_icb_rows(records):
    usage = records["usage"]
    assert sorted({u["period"] for u in usage}) == [f"2025-{m}" for m in ("11", "12")] + [
        f"2026-{m:02d}" for m in range(1, 11)]
    kinds = {**{c: "practice" for c in by_kind(records, "practice")}, **{c: "pcn" for c in by_kind(records, "pcn")},
             **{c: "icb" for c in by_kind(records, "icb")}}
    assert {kinds[u["organisation"]] for u in usage} == {"practice", "pcn", "icb"}
    # Practice rows agree with the submissions and actions of the package.
    started = Counter((s["practice"], s["started"][:7]) for s in records["submissions"])
    for row in usage:
        if kinds[row["organisation"]] == "practice":
            assert row["assessments_started"] == started[row["organisation"], row["period"]]


# --- contracts ------------------------------------------------------------------------------------

def in_force(contract, today=TODAY) -> bool:
    return contract["status"] == "active" and contract["start"] <= today.isoformat() <= contract["end"]


def test_contracts_show_every_case_of_the_policy(records):
    contracts = records["contracts"]
    practices = by_kind(records, "practice")
    pcns, feds = by_kind(records, "pcn"), by_kind(records, "federation")

    def beneath(c):
        if c["kind"] == "pcn":
            return {p for p, r in practices.items() if r["parent"] == c["holder"]}
        return {p for p, r in practices.items() if c["holder"] in r["federations"]}

    icb = [c for c in contracts if c["kind"] == "icb" and in_force(c)]
    assert icb and icb[0]["holder"] in ("QK1", "QJM")
    whole_null = [c for c in contracts if c["kind"] == "pcn" and c["covers"] is None and in_force(c)]
    assert whole_null and any(c["holder"] == "U25294" for c in whole_null)  # the PCN spanning two ICBs
    full_list = [c for c in contracts if c["kind"] == "pcn" and c["covers"] and in_force(c)
                 and set(c["covers"]) == beneath(c)]
    assert full_list
    fed_full = [c for c in contracts if c["kind"] == "federation" and in_force(c) and set(c["covers"]) == beneath(c)]
    assert fed_full
    partial = [c for c in contracts if c["kind"] in ("pcn", "federation") and in_force(c) and c["covers"]
               and set(c["covers"]) < beneath(c)]
    assert {c["kind"] for c in partial} == {"pcn", "federation"}
    assert any(c["status"] == "suspended" for c in contracts)
    assert any(c["status"] == "active" and c["end"] < TODAY.isoformat() for c in contracts)  # expired
    assert any(c["status"] == "ended" for c in contracts)
    assert all(c["holder"] in pcns or c["holder"] in feds or c["kind"] == "icb" for c in contracts)


def test_today_moves_every_date(tmp_path):
    summary = generate(tmp_path / "p", DemoOptions(seed=2, practices=30, today=date(2027, 6, 15)))
    assert check_package(summary.path) == []
    forms = read_records(summary.path, "assessments")
    assert {a["version"] for a in forms if a["id"] == "global"} == {"2025.1", "2026.1", "2027.1"}
    contracts = read_records(summary.path, "contracts")
    assert any(c["start"] == "2027-04-01" and in_force(c, date(2027, 6, 15)) for c in contracts)
    assert max(s["started"] for s in read_records(summary.path, "submissions")) < "2027-06-15"


# --- sizes, formats and the command -------------------------------------------------------------

def test_fifty_practices_are_fifty_valid_practices(tmp_path):
    summary = generate(tmp_path / "p", DemoOptions(seed=1, practices=50))
    assert summary.organisations["practice"] == 50
    assert summary.icbs == ("QK1",)
    assert check_package(summary.path) == []
    contracts = read_records(summary.path, "contracts")
    assert any(c["kind"] == "icb" and in_force(c) for c in contracts)


def test_a_zip_path_writes_the_same_package_as_a_zip_in_spec_order(tmp_path):
    zipped = generate(tmp_path / "p.zip", DemoOptions(seed=5, practices=25))
    plain = generate(tmp_path / "p", DemoOptions(seed=5, practices=25))
    with zipfile.ZipFile(zipped.path) as archive:
        assert archive.namelist() == list(SPEC_FILES)
    assert read_package(zipped.path)[0] == read_package(plain.path)[0]
    assert check_package(zipped.path) == []
    again = generate(tmp_path / "q.zip", DemoOptions(seed=5, practices=25))
    assert again.path.read_bytes() == zipped.path.read_bytes()


def test_mode_full_is_written_to_the_manifest(tmp_path):
    summary = generate(tmp_path / "p", DemoOptions(practices=5, mode="full"))
    assert b'"mode": "full"' in (summary.path / "manifest.json").read_bytes()


def test_a_directory_that_is_not_a_package_is_not_overwritten(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(PackageError):
        generate(tmp_path, DemoOptions(practices=5))
    assert (tmp_path / "keep.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]  # no staging left behind


def test_the_cli_writes_a_valid_package(tmp_path, capsys):
    out = tmp_path / "pkg"
    assert main(["demo", "--out", str(out), "--seed", "1"]) == 0
    assert check_package(out) == []
    printed = capsys.readouterr().out
    assert "QJM QK1" in printed and "U25294" in printed
    assert main(["demo", "--out", str(tmp_path / "x"), "--icb", "QZZ"]) == 2


def test_all_of_england(tmp_path):
    """The benchmark package: every practice, PCN and ICB (about 5 s of CPU to write, 5 s to check)."""
    summary = generate(tmp_path / "england", DemoOptions(seed=1, practices=10**9))
    assert summary.organisations["practice"] == 6527
    assert summary.organisations["pcn"] == 1254
    assert summary.organisations["icb"] == 42
    assert set(summary.spanning_pcns) == {"U22471", "U25294", "U41591", "U57294"}
    assert check_package(summary.path) == []
