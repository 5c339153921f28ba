"""An export package for the aggregate tests, and what every aggregate of it must be, computed
directly from the package's records (never through the adapter's code).

The organisations, contracts and callers are the policy oracle's (tests/policy_oracle.py): two
ICBs, a PCN spanning both, PCNs of one and two practices, practices in no PCN, a closed practice,
federations. On top: two forms (global, two scored sections; in-depth `telephony`, one section),
submissions over two quarters (several per practice, the latest counting; amended, in progress,
entered in error; one at 23:30 UTC on 30 June, which is 1 July in London), actions of every
status and priority with impacts in two units, in-depth actions, and monthly usage of practices
and of PCNs and ICBs (which must not count).
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from tests.policy_oracle import ALL, CELLS, ORGANISATIONS, PRACTICES, PRACTICES_OF, expected_scope

Q2 = ("2026-07-01", "2026-09-30")   # the quarter the tests ask about (a whole NHS quarter)
Q1 = ("2026-04-01", "2026-06-30")
SECTIONS = {"global": {"leadership": ["LD1", "LD2", "LD3"], "infrastructure": ["IN1", "IN2"]},
            "telephony": {"telephony": ["TE1", "TE2"]}}
SCORES = {"LD1": 4, "LD2": 2, "LD3": 1, "IN1": 3, "IN2": 3, "TE1": 5, "TE2": 5}  # score of `true`; `false` = 0
STATUSES = ("proposed", "agreed", "in-progress", "on-hold", "completed", "cancelled")
SUBJECTS = (("QAA", None), ("QBB", None), ("U00001", "QAA"), ("U00001", "QBB"), ("U00002", None),
            ("U00003", None), ("U00004", None), ("FED01", None), ("FED02", None))
MEASURE_IDS = ("global-assessment", "indepth-assessment", "actions", "impact-summary", "indepth-action-summary",
               "usage")
CS = "https://fhir.dandthub.co.uk/CodeSystem/"


def _assessment(id_, kind, theme):
    return {"id": id_, "version": "1", "kind": kind, "theme": theme, "title": id_.title(), "status": "active",
            "published": "2026-04-01",
            "sections": [{"id": s, "title": s.title(), "questions": [
                {"id": q, "text": f"Question {q}?", "type": "boolean", "required": True,
                 "scores": {"true": SCORES[q], "false": 0}} for q in qs]}
                for s, qs in SECTIONS[id_].items()]}


def build_records(seed: int = 7) -> dict[str, list[dict]]:
    rng = random.Random(seed)
    practices = sorted(PRACTICES)
    submissions, actions, usage = [], [], []
    n = 0
    for p in practices:
        # Global: in Q2 one or two (the later counts), sometimes amended; some in Q1 only.
        shape = rng.choice(["q2", "q2", "q2-twice", "q1-only", "none", "q2-boundary", "in-progress"])
        times = {"q2": ["2026-08-10T10:00:00Z"], "q2-twice": ["2026-07-05T09:00:00Z", "2026-09-20T16:00:00Z"],
                 "q1-only": ["2026-05-02T10:00:00Z"], "none": [], "q2-boundary": ["2026-06-30T23:30:00Z"],
                 "in-progress": []}[shape]
        for when in times:
            n += 1
            submissions.append(_submission(f"S-{n:04d}", "global", p, rng.choice(["completed", "amended"]), when, rng))
        if shape == "in-progress":
            n += 1
            submissions.append(_submission(f"S-{n:04d}", "global", p, "in-progress", "2026-08-01T10:00:00Z", rng))
        if rng.random() < 0.3:  # a later one, entered in error: does not count
            n += 1
            submissions.append(_submission(f"S-{n:04d}", "global", p, "entered-in-error", "2026-09-29T10:00:00Z", rng))
        # Q1 as well for most: must never leak into Q2
        n += 1
        submissions.append(_submission(f"S-{n:04d}", "global", p, "completed", "2026-04-20T10:00:00Z", rng))
        indepth = None
        if rng.random() < 0.7:
            n += 1
            indepth = f"S-{n:04d}"
            submissions.append(_submission(indepth, "telephony", p, "completed",
                                           rng.choice(["2026-07-15T10:00:00Z", "2026-05-15T10:00:00Z"]), rng))
        # Actions: created in Q2 (some in Q1), every status and priority, some with impacts.
        for i in range(rng.randint(0, 4)):
            status = rng.choice(STATUSES)
            rec = {"id": f"A-{p}-{i}", "practice": p, "title": f"Action {i}", "status": status,
                   "priority": rng.choice(["routine", "urgent"]),
                   "created": rng.choice(["2026-07-03T08:00:00Z", "2026-08-30T08:00:00Z", "2026-06-01T08:00:00Z"])}
            if status == "completed":
                rec["completed"] = "2026-09-01T08:00:00Z"
            if indepth and rng.random() < 0.5:
                rec["submission"] = indepth
            if rng.random() < 0.7:
                rec["impact"] = {"category": rng.choice(["time-saved", "patient-access", "cost"]),
                                 "summary": "Impact", "value": rng.choice([1, 2.5, 10, 40]),
                                 "unit": rng.choice(["hours/month", "GBP"])}
            actions.append(rec)
        for month in ("2026-06", "2026-07", "2026-08", "2026-09", "2026-10"):
            if rng.random() < 0.85:
                usage.append({"organisation": p, "period": month, "active_users": rng.randint(0, 12),
                              "logins": rng.randint(0, 90), "actions_created": rng.randint(0, 5)})
    for org in ("U00001", "U00003", "QAA", "QBB"):  # group rows: not a practice's contribution
        usage.append({"organisation": org, "period": "2026-08", "active_users": 999, "logins": 9999})
    return {"organisations": ORGANISATIONS,
            "assessments": [_assessment("global", "global", None), _assessment("telephony", "indepth", "telephony")],
            "submissions": submissions, "actions": actions, "usage": usage}


def _submission(id_, assessment, practice, status, when, rng):
    questions = [q for qs in SECTIONS[assessment].values() for q in qs]
    rec = {"id": id_, "assessment": assessment, "assessment_version": "1", "practice": practice, "status": status,
           "answers": [{"question": q, "value": rng.random() < 0.6} for q in questions]}
    if status == "in-progress":
        rec["started"] = when
    else:
        rec["submitted"] = when
    return rec


def write_package(folder: Path, records: dict[str, list[dict]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({"format": "dthub-export", "version": "1.0",
                                                      "exported_at": "2026-11-01T02:00:00Z", "source": "agg-oracle",
                                                      "mode": "incremental"}))
    for name, rows in records.items():
        (folder / f"{name}.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


# -- the oracle's numbers ------------------------------------------------------------------------

def _london_date(instant: str) -> str:
    """ISO instant (Z) -> London calendar date. BST (UTC+1) runs 29 Mar - 25 Oct 2026."""
    day, clock = instant[:10], instant[11:16]
    in_bst = "2026-03-29" <= day <= "2026-10-24"
    if in_bst and clock >= "23:00":
        from datetime import date, timedelta
        return (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    return day


def _in(instant: str, period) -> bool:
    return period[0] <= _london_date(instant) <= period[1]


def practice_values(records, measure: str, period=Q2) -> dict[str, dict[str, dict]]:
    """practice -> group code -> {"value": v, "strata": {stratifier: {stratum: v}}}."""
    out: dict[str, dict[str, dict]] = {}
    if measure in ("global-assessment", "indepth-assessment"):
        form = "global" if measure == "global-assessment" else "telephony"
        latest = {}
        for s in records["submissions"]:
            if s["assessment"] == form and s["status"] in ("completed", "amended") and _in(s["submitted"], period):
                if s["practice"] not in latest or s["submitted"] > latest[s["practice"]]["submitted"]:
                    latest[s["practice"]] = s
        for p, s in latest.items():
            answers = {a["question"]: a["value"] for a in s["answers"]}
            section_pct = {sec: 100 * sum(SCORES[q] for q in qs if answers.get(q)) / sum(SCORES[q] for q in qs)
                           for sec, qs in SECTIONS[form].items()}
            every = [q for qs in SECTIONS[form].values() for q in qs]
            total = 100 * sum(SCORES[q] for q in every if answers.get(q)) / sum(SCORES[q] for q in every)
            band = "0-24" if total < 25 else "25-49" if total < 50 else "50-74" if total < 75 else "75-100"
            if form == "global":
                out[p] = {"global": {"value": total, "strata": {"score-band": {band: total}}}}
                for sec, pct in section_pct.items():
                    b = "0-24" if pct < 25 else "25-49" if pct < 50 else "50-74" if pct < 75 else "75-100"
                    out[p][sec] = {"value": pct, "strata": {"score-band": {b: pct}}}
            else:
                out[p] = {"telephony": {"value": total, "strata": {"section": section_pct,
                                                                   "score-band": {band: total}}}}
        return out
    if measure in ("actions", "indepth-action-summary", "impact-summary"):
        indepth_subs = {s["id"] for s in records["submissions"] if s["assessment"] == "telephony"}
        for a in records["actions"]:
            if not _in(a["created"], period):
                continue
            if measure == "indepth-action-summary" and a.get("submission") not in indepth_subs:
                continue
            p = a["practice"]
            if measure == "impact-summary":
                if a["status"] == "cancelled" or not a.get("impact"):
                    continue
                g = out.setdefault(p, {}).setdefault(a["impact"]["category"], {"value": 0, "strata": {"unit": {}}})
                g["value"] += 1
                units = g["strata"]["unit"]
                units[a["impact"]["unit"]] = units.get(a["impact"]["unit"], 0) + a["impact"]["value"]
            else:
                g = out.setdefault(p, {}).setdefault(measure, {"value": 0, "strata": {"status": {}, "priority": {}}})
                g["value"] += 1
                for k, v in (("status", a["status"]), ("priority", a["priority"])):
                    g["strata"][k][v] = g["strata"][k].get(v, 0) + 1
        return out
    # a month counts when its first day lies in the period
    months = {m for m in ("2026-06", "2026-07", "2026-08", "2026-09", "2026-10") if period[0] <= f"{m}-01" <= period[1]}
    per: dict[str, dict[str, list]] = {}
    for u in records["usage"]:
        if u["organisation"] in PRACTICES and u["period"] in months:
            for metric, v in u.items():
                if metric not in ("organisation", "period"):
                    per.setdefault(u["organisation"], {}).setdefault(metric, []).append(v)
    for p, metrics in per.items():
        out[p] = {m: {"value": (sum(v) / len(v)) if m == "active_users" else sum(v), "strata": {}}
                  for m, v in metrics.items()}
    return out


MEAN = {"global-assessment", "indepth-assessment"}


def expected_groups(records, measure: str, members: frozenset[str], period=Q2) -> dict[str, dict]:
    """group code -> {"count", "score", "strata": {stratifier: {stratum: (count, score)}}, "contributors"}."""
    values = practice_values(records, measure, period)
    codes = sorted({g for p in members for g in values.get(p, {})})
    out = {}
    for code in codes:
        having = {p: values[p][code] for p in members if code in values.get(p, {})}
        combine = (lambda xs: sum(xs) / len(xs)) if measure in MEAN else sum
        strata: dict[str, dict[str, tuple]] = {}
        for sample in having.values():
            for name, by in sample["strata"].items():
                for stratum, v in by.items():
                    strata.setdefault(name, {}).setdefault(stratum, []).append(v)
        out[code] = {"count": len(having), "contributors": frozenset(having),
                     "score": combine([s["value"] for s in having.values()]),
                     "strata": {n: {s: (len(v), combine(v)) for s, v in by.items()} for n, by in strata.items()}}
    return out


def group_of(subject: str, icb: str | None) -> frozenset[str]:
    if icb is not None:
        return CELLS[(subject, icb)]
    if subject in ("U00002", "U00003", "U00004"):
        return CELLS[(subject, "QBB" if subject != "U00004" else "QAA")]
    return PRACTICES_OF[subject]


def level_of(subject: str) -> str:
    return "icb" if subject.startswith("Q") else "pcn"


def members(role, org, purpose, contracts, measure, subject, icb) -> frozenset[str]:
    scope = expected_scope(role, org, purpose, measure, level_of(subject), contracts)
    group = group_of(subject, icb)
    return group if scope == ALL else group & scope


def hidden_of(role, org, purpose, contracts, measure, practices) -> frozenset[str]:
    scope = expected_scope(role, org, purpose, measure, "practice", contracts)
    return frozenset() if scope == ALL else frozenset(p for p in practices if p not in scope)
