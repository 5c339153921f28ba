"""The policy oracle: data-use-policy.md transcribed into tables, independently of adapter/policy.

Everything the tests expect comes from here: the policy's own table (copied from the policy page,
cell by cell), the interpretation's rules (a dozen lines), a small world of organisations and
contracts written as Hub export records, and for each contract the practices it should reach,
worked out by hand from the policy's words (not computed). If the engine and this file disagree,
one of them misreads the policy.

The world (TODAY = 2026-11-15):

    ICB QAA: A00001 A00002 (PCN U00001) | A00004 (PCN U00004) | C00001 (no PCN) | D00001 (no PCN, closed)
    ICB QBB: A00003 (PCN U00001, whose lead ICB is QAA: U00001 spans both ICBs)
             B00001 (PCN U00002: one practice) | B00002 B00003 (PCN U00003: two practices)
    Federation FED01 (QAA): A00001 A00002 C00001 D00001      Federation FED02 (QBB): B00002 B00003
"""
from __future__ import annotations

from datetime import date

TODAY = date(2026, 11, 15)
ALL = "ALL"  # the oracle's own "every practice" (the engine has its own marker)

# -- The policy's table, as the policy page prints it (● = allowed) ----------------------------
POLICY_TABLE = """
| Data type              | Ext ICB | Ext PCN | Ext Prac | ICB-c ICB | ICB-c PCN | ICB-c Prac | PCN-c PCN | PCN-c Prac | Svc ICB | Svc PCN | Svc Prac |
| global-assessment      |    ●    |    ●    |          |     ●     |     ●     |     ●      |     ●     |     ●      |    ●    |    ●    |    ●     |
| indepth-assessment     |         |         |          |     ●     |     ●     |            |     ●     |     ●      |    ●    |    ●    |    ●     |
| actions                |         |         |          |     ●     |     ●     |            |     ●     |     ●      |    ●    |    ●    |    ●     |
| impact-summary         |         |         |          |     ●     |     ●     |            |     ●     |     ●      |    ●    |    ●    |    ●     |
| indepth-action-summary |         |         |          |     ●     |     ●     |            |     ●     |     ●      |    ●    |    ●    |    ●     |
| usage                  |    ●    |    ●    |    ●     |     ●     |     ●     |     ●      |     ●     |     ●      |    ●    |    ●    |    ●     |
"""
LEVEL_OF_COLUMN = {"ICB": "icb", "PCN": "pcn", "Prac": "practice"}
DATA_TYPES = ("global-assessment", "indepth-assessment", "actions", "impact-summary", "indepth-action-summary",
              "usage")
LEVELS = ("icb", "pcn", "practice")
PURPOSES = ("HMARKT", "HOPERAT", "HQUALIMP")
ROLES = ("practice", "pcn", "federation", "icb", "external", "service")


def _parse_table(text: str) -> dict[str, dict[str, frozenset[str]]]:
    """{table: {data type: levels}} for tables Ext, ICB-c, PCN-c, Svc."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.strip().splitlines()]
    header, body = rows[0][1:], rows[1:]
    out: dict[str, dict[str, set[str]]] = {}
    for row in body:
        for column, mark in zip(header, row[1:]):
            table, level = column.split(" ")
            cell = out.setdefault(table, {}).setdefault(row[0], set())
            if mark == "●":
                cell.add(LEVEL_OF_COLUMN[level])
    return {t: {d: frozenset(levels) for d, levels in rows_.items()} for t, rows_ in out.items()}


TABLES = _parse_table(POLICY_TABLE)
# Own practice (**decision**): all of its own practice's data at Practice level.
TABLES["Own"] = {d: frozenset({"practice"}) for d in DATA_TYPES}
# Which table a contract of each kind grants ("PCN-c = PCN or GP Federation").
TABLE_OF_CONTRACT_KIND = {"icb": "ICB-c", "pcn": "PCN-c", "federation": "PCN-c"}
# Baseline for any purpose; contract, service and own-practice tiers only for these (**decision**).
OPERATIONAL = frozenset({"HOPERAT", "HQUALIMP"})

# -- The world, as Hub export records ------------------------------------------------------------
ORGANISATIONS = [
    {"ods_code": "QAA", "kind": "icb", "name": "ICB A"},
    {"ods_code": "QBB", "kind": "icb", "name": "ICB B"},
    {"ods_code": "U00001", "kind": "pcn", "name": "PCN ONE (SPANS QAA AND QBB)", "parent": "QAA"},
    {"ods_code": "U00002", "kind": "pcn", "name": "PCN TWO (ONE PRACTICE)", "parent": "QBB"},
    {"ods_code": "U00003", "kind": "pcn", "name": "PCN THREE (TWO PRACTICES)", "parent": "QBB"},
    {"ods_code": "U00004", "kind": "pcn", "name": "PCN FOUR", "parent": "QAA"},
    {"ods_code": "FED01", "kind": "federation", "name": "FEDERATION A", "parent": "QAA"},
    {"ods_code": "FED02", "kind": "federation", "name": "FEDERATION B", "parent": "QBB"},
    {"ods_code": "A00001", "kind": "practice", "name": "A1", "parent": "U00001", "icb": "QAA", "federations": ["FED01"]},
    {"ods_code": "A00002", "kind": "practice", "name": "A2", "parent": "U00001", "icb": "QAA", "federations": ["FED01"]},
    {"ods_code": "A00003", "kind": "practice", "name": "A3", "parent": "U00001", "icb": "QBB"},
    {"ods_code": "A00004", "kind": "practice", "name": "A4", "parent": "U00004", "icb": "QAA"},
    {"ods_code": "B00001", "kind": "practice", "name": "B1", "parent": "U00002", "icb": "QBB"},
    {"ods_code": "B00002", "kind": "practice", "name": "B2", "parent": "U00003", "icb": "QBB", "federations": ["FED02"]},
    {"ods_code": "B00003", "kind": "practice", "name": "B3", "parent": "U00003", "icb": "QBB", "federations": ["FED02"]},
    {"ods_code": "C00001", "kind": "practice", "name": "C1", "parent": None, "icb": "QAA", "federations": ["FED01"]},
    {"ods_code": "D00001", "kind": "practice", "name": "D1 (CLOSED)", "parent": None, "icb": "QAA",
     "federations": ["FED01"], "active": False},
]
PRACTICES = frozenset(o["ods_code"] for o in ORGANISATIONS if o["kind"] == "practice")
# Hand-derived from the records above.
PRACTICES_OF = {
    "QAA": frozenset({"A00001", "A00002", "A00004", "C00001", "D00001"}),
    "QBB": frozenset({"A00003", "B00001", "B00002", "B00003"}),
    "U00001": frozenset({"A00001", "A00002", "A00003"}),
    "U00002": frozenset({"B00001"}),
    "U00003": frozenset({"B00002", "B00003"}),
    "U00004": frozenset({"A00004"}),
    "FED01": frozenset({"A00001", "A00002", "C00001", "D00001"}),
    "FED02": frozenset({"B00002", "B00003"}),
}
CELLS = {("U00001", "QAA"): frozenset({"A00001", "A00002"}), ("U00001", "QBB"): frozenset({"A00003"}),
         ("U00002", "QBB"): frozenset({"B00001"}), ("U00003", "QBB"): frozenset({"B00002", "B00003"}),
         ("U00004", "QAA"): frozenset({"A00004"})}


def _contract(id_, kind, holder, covers, start, end, status):
    return {"id": id_, "kind": kind, "holder": holder, "covers": covers, "start": start, "end": end, "status": status}


# Each contract, and the practices its tier reaches on TODAY (None = nothing beyond the baseline),
# worked out by hand from the policy's words.
CONTRACTS = [
    # ICB contract in force, covers null: "the practices whose ICB is that ICB" (the closed one too).
    (_contract("C-QAA", "icb", "QAA", None, "2026-04-01", "2027-03-31", "active"),
     frozenset({"A00001", "A00002", "A00004", "C00001", "D00001"})),
    # Suspended: "grants nothing more than no contract".
    (_contract("C-QBB-SUSPENDED", "icb", "QBB", None, "2026-04-01", "2027-03-31", "suspended"), None),
    # ICB contract with a covers list: "grants its tier over the listed practices only".
    (_contract("C-QBB-LISTED", "icb", "QBB", ["A00003", "B00001"], "2026-04-01", "2027-03-31", "active"),
     frozenset({"A00003", "B00001"})),
    # PCN contract covering all (null), last day today: in force ("start to end inclusive").
    (_contract("C-U3", "pcn", "U00003", None, "2026-04-01", "2026-11-15", "active"), frozenset({"B00002", "B00003"})),
    # The spanning PCN, covering all three of its practices by list: both cells.
    (_contract("C-U1-ALL", "pcn", "U00001", ["A00001", "A00002", "A00003"], "2026-11-15", "2027-03-31", "active"),
     frozenset({"A00001", "A00002", "A00003"})),
    # ... and a contract of the same PCN that misses A00003: "covers only some practices: nothing".
    (_contract("C-U1-PART", "pcn", "U00001", ["A00001", "A00002"], "2026-04-01", "2027-03-31", "active"), None),
    # Expired (ended before today) and not yet started.
    (_contract("C-U2-EXPIRED", "pcn", "U00002", None, "2025-04-01", "2026-03-31", "active"), None),
    (_contract("C-U2-NEXT", "pcn", "U00002", None, "2026-11-16", "2027-03-31", "active"), None),
    # Ended, although within its dates.
    (_contract("C-U4-ENDED", "pcn", "U00004", None, "2026-04-01", "2027-03-31", "ended"), None),
    # Federation covering every member; the closed member D00001 need not be listed.
    (_contract("C-FED01", "federation", "FED01", ["A00001", "A00002", "C00001"], "2026-04-01", "2027-03-31", "active"),
     frozenset({"A00001", "A00002", "C00001"})),
    # Federation covering only some members: nothing.
    (_contract("C-FED02-PART", "federation", "FED02", ["B00002"], "2026-04-01", "2027-03-31", "active"), None),
]
CONTRACT_REACH = {c["id"]: reach for c, reach in CONTRACTS}

# The callers: (name, role, organisation).
CALLERS = [
    ("practice-A00001", "practice", "A00001"), ("practice-A00003", "practice", "A00003"),
    ("practice-C00001", "practice", "C00001"),
    ("pcn-U00001", "pcn", "U00001"), ("pcn-U00002", "pcn", "U00002"), ("pcn-U00003", "pcn", "U00003"),
    ("pcn-U00004", "pcn", "U00004"),
    ("federation-FED01", "federation", "FED01"), ("federation-FED02", "federation", "FED02"),
    ("icb-QAA", "icb", "QAA"), ("icb-QBB", "icb", "QBB"),
    ("external", "external", None),
    ("external-of-QAA", "external", "QAA"),  # a contract holder's organisation, but not acting as the ICB
    ("service", "service", None),
]


def contract_sets(org: str | None) -> dict[str, list[dict]]:
    """The contract worlds a caller is judged in: none, all, and each of its own contracts alone."""
    out = {"no-contract": [], "all-contracts": [c for c, _ in CONTRACTS]}
    out.update({c["id"]: [c] for c, _ in CONTRACTS if c["holder"] == org})
    return out


# -- The rules ------------------------------------------------------------------------------------

def _union(scopes) -> object:
    out: frozenset = frozenset()
    for scope in scopes:
        if scope == ALL:
            return ALL
        out |= scope
    return out


def expected_scope(role: str, org: str | None, purpose: str, data_type: str, level: str,
                   contracts: list[dict]) -> object:
    """ALL or the frozenset of practices the caller may see `data_type` of at `level`."""
    scopes = []
    if level in TABLES["Ext"][data_type]:
        scopes.append(ALL)  # baseline: every client, any purpose, every practice
    if purpose in OPERATIONAL:
        if role == "service" and level in TABLES["Svc"][data_type]:
            scopes.append(ALL)
        if role == "practice" and level in TABLES["Own"][data_type]:
            scopes.append(frozenset({org}))
        for contract in contracts:
            reach = CONTRACT_REACH[contract["id"]]
            if (contract["holder"] == org and contract["kind"] == role and reach is not None
                    and level in TABLES[TABLE_OF_CONTRACT_KIND[role]][data_type]):
                scopes.append(reach)
    return _union(scopes)


def sees(scope: object, practice: str) -> bool:
    return scope == ALL or practice in scope


def sees_staff(role: str, org: str | None, purpose: str, practice: str) -> bool:
    """Personal data of practice staff: the practice itself and service clients (operational tiers)."""
    return purpose in OPERATIONAL and (role == "service" or (role == "practice" and org == practice))


# -- The world as FHIR, through the real mappers (what the engine will be given) ----------------

ASSESSMENTS = [
    {"id": "global", "version": "1", "kind": "global", "theme": None, "title": "Global", "status": "active",
     "sections": [{"id": "leadership", "title": "Leadership", "questions": [
         {"id": "LD1", "text": "Named digital lead?", "type": "boolean", "required": True}]}]},
    {"id": "telephony", "version": "1", "kind": "indepth", "theme": "telephony", "title": "Telephony",
     "status": "active", "sections": [{"id": "telephony", "title": "Telephony", "questions": [
         {"id": "TE1", "text": "Cloud telephony?", "type": "boolean", "required": True}]}]},
]
STAFF_NAME = "Jo Bloggs"


def _load(kind: str, record: dict) -> dict:
    from mappings.schemas import load_record
    loaded, problems = load_record(kind, record)
    assert loaded is not None, problems
    return loaded


def organization_resources() -> list[dict]:
    from mappings.organisation import organisation_to_fhir
    return [organisation_to_fhir(_load("organisation", o), "oracle") for o in ORGANISATIONS]


def contract_consent(record: dict) -> dict:
    from mappings.contract import contract_to_consent
    return contract_to_consent(_load("contract", record), "oracle")


def _lookup(submissions=()):
    from mappings.types import dict_lookup
    return dict_lookup(organisations=[_load("organisation", o) for o in ORGANISATIONS],
                       assessments=[_load("assessment", a) for a in ASSESSMENTS], submissions=submissions)


def practice_resources(practice: str) -> dict[str, dict]:
    """One of each governed resource of `practice`, named by what it is."""
    from mappings.action import action_to_task
    from mappings.submission import submission_header, submission_to_questionnaire_response
    from mappings.summaries import PracticeActions, impact_summary, indepth_action_summary
    from mappings.usage import usage_to_measure_report

    author = {"name": STAFF_NAME, "role": "Practice Manager", "email": "jo.bloggs@nhs.net"}
    submissions = [
        {"id": f"S-{practice}-G", "assessment": "global", "assessment_version": "1", "practice": practice,
         "status": "completed", "submitted": "2026-05-10T10:22:00Z", "author": author,
         "answers": [{"question": "LD1", "value": True}]},
        {"id": f"S-{practice}-I", "assessment": "telephony", "assessment_version": "1", "practice": practice,
         "status": "completed", "submitted": "2026-06-10T10:22:00Z", "author": author,
         "answers": [{"question": "TE1", "value": False}]},
    ]
    base = _lookup()
    qrs = [submission_to_questionnaire_response(_load("submission", s), "oracle", base) for s in submissions]
    lookup = _lookup([submission_header(qr) for qr in qrs])
    action = {"id": f"A-{practice}-1", "practice": practice, "submission": f"S-{practice}-I", "question": "TE1",
              "title": "Move to cloud telephony", "status": "in-progress", "priority": "routine",
              "owner": {"organisation": practice, "name": STAFF_NAME, "role": "Practice Manager"},
              "created": "2026-06-11T08:00:00Z",
              "impact": {"category": "patient-access", "summary": "More calls answered", "value": 30,
                         "unit": "calls/week"},
              "notes": [{"at": "2026-07-01T12:00:00Z", "text": f"{STAFF_NAME} spoke to the supplier"}]}
    task = action_to_task(_load("action", action), "oracle", lookup)
    summary = PracticeActions()
    summary.add(task)
    usage = usage_to_measure_report(_load("usage", {"organisation": practice, "period": "2026-10", "logins": 4}),
                                    "oracle", lookup)
    return {"qr-global": qrs[0], "qr-indepth": qrs[1], "task": task,
            "impact-summary": impact_summary(practice, summary, "oracle"),
            "indepth-action-summary": indepth_action_summary(practice, summary, "oracle"), "usage": usage}


# What each resource of practice_resources needs: (data type, level) at the owner practice.
NEEDS = {"qr-global": "global-assessment", "qr-indepth": "indepth-assessment", "task": "actions",
         "impact-summary": "impact-summary", "indepth-action-summary": "indepth-action-summary", "usage": "usage"}


def usage_resource(organisation: str) -> dict:
    from mappings.usage import usage_to_measure_report
    return usage_to_measure_report(_load("usage", {"organisation": organisation, "period": "2026-10", "logins": 9}),
                                   "oracle", _lookup())
