"""An independent checker of Hub export packages against hub-export.md (format 1.0), and its tests.

`check_package(path)` re-reads a package (directory or zip) with the standard library only and
returns every violation it finds, as "file:line: message". It shares no code with the generator
(`adapter.demo`), so a generator bug cannot hide in a shared helper. `demo_rules=True` adds the
demo's own promises on top of the spec (every event before the export, usage counts consistent,
federations within one ICB, staff e-mails on nhs.net...).
"""
from __future__ import annotations

import io
import json
import math
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest

SPEC_FILES = ("manifest.json", "organisations.ndjson", "assessments.ndjson", "submissions.ndjson",
              "actions.ndjson", "usage.ndjson", "contracts.ndjson")

ID = re.compile(r"[A-Za-z0-9.\-]{1,48}")
VERSION = re.compile(r"[A-Za-z0-9.]{1,12}")
ODS = {"practice": re.compile(r"[A-Z][0-9]{5}"), "pcn": re.compile(r"U[0-9]{5}"),
       "icb": re.compile(r"Q[A-Z0-9]{2}"), "federation": re.compile(r"[A-Z0-9]{3,10}")}
DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}")

QUESTION_TYPES = {"boolean", "choice", "multi-choice", "integer", "decimal", "text", "date"}
SECTION_IDS = {"leadership", "infrastructure", "cyber-security", "workforce", "patient-access",
               "care-navigation", "data-interoperability", "innovation"}
THEMES = {"telephony", "online-consultation", "cyber-security", "leadership", "infrastructure",
          "workforce-skills", "patient-access", "digital-inclusion", "care-navigation",
          "data-interoperability", "innovation"}
FIELDS = {
    "organisations": {"ods_code", "kind", "name", "parent", "icb", "postcode", "active", "list_size", "federations"},
    "assessments": {"id", "version", "kind", "theme", "title", "status", "published", "sections"},
    "section": {"id", "title", "questions"},
    "question": {"id", "text", "type", "required", "options", "scores", "enable_when"},
    "option": {"code", "label", "score"},
    "submissions": {"id", "assessment", "assessment_version", "practice", "status", "started", "submitted",
                    "author", "answers"},
    "author": {"name", "role", "email"},
    "answer": {"question", "value"},
    "actions": {"id", "practice", "submission", "question", "title", "description", "status", "priority",
                "owner", "created", "due", "completed", "impact", "notes"},
    "owner": {"organisation", "name", "role"},
    "impact": {"category", "summary", "value", "unit"},
    "note": {"at", "text"},
    "usage": {"organisation", "period", "active_users", "logins", "assessments_started", "assessments_completed",
              "actions_created", "actions_completed"},
    "contracts": {"id", "holder", "kind", "covers", "start", "end", "status"},
}
COUNTS = ("active_users", "logins", "assessments_started", "assessments_completed", "actions_created",
          "actions_completed")


def _moment(value) -> datetime | None:
    if not isinstance(value, str) or not DATETIME.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _day(value) -> date | None:
    if not isinstance(value, str) or not DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _text(value) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _no_duplicate_keys(pairs):
    record = dict(pairs)
    if len(record) != len(pairs):
        raise ValueError(f"duplicate keys in {[k for k, _ in pairs]}")
    return record


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


# Strict JSON: no repeated keys, no NaN or Infinity.
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant)


def _load(text: str):
    return _DECODER.decode(text)


def read_package(path: Path) -> tuple[dict[str, bytes], list[str]]:
    """File name -> bytes, and the order of the zip's entries (empty for a directory)."""
    path = Path(path)
    if path.is_dir():
        return {p.name: p.read_bytes() for p in sorted(path.iterdir())}, []
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        return {name: archive.read(name) for name in names}, names


class Checker:
    def __init__(self, demo_rules: bool):
        self.demo = demo_rules
        self.errors: list[str] = []
        self.where = ""
        self.exported_at: datetime | None = None
        self.orgs: dict[str, dict] = {}
        self.forms: dict[tuple[str, str], dict] = {}  # (id, version) -> {"record", "questions": {id: q}}
        self.submissions: dict[str, dict] = {}
        self.action_ids: set[str] = set()
        self.usage_keys: set[tuple[str, str]] = set()
        self.contract_ids: set[str] = set()

    def fail(self, message: str) -> None:
        self.errors.append(f"{self.where}: {message}")

    def fields(self, record, allowed: str, name: str) -> bool:
        if not isinstance(record, dict):
            self.fail(f"{name} is not an object")
            return False
        unknown = set(record) - FIELDS[allowed]
        if unknown:
            self.fail(f"{name} has unknown fields {sorted(unknown)}")
        return True

    def event(self, value, name: str, required: bool = True) -> datetime | None:
        if value is None:
            if required:
                self.fail(f"{name} is required")
            return None
        moment = _moment(value)
        if moment is None:
            self.fail(f"{name} {value!r} is not an ISO 8601 time with a zone")
        elif self.demo and self.exported_at and moment > self.exported_at:
            self.fail(f"{name} {value} is after the export ({self.exported_at.isoformat()})")
        return moment

    # --- manifest -----------------------------------------------------------------------------
    def manifest(self, raw: bytes) -> None:
        self.where = "manifest.json"
        try:
            record = _load(raw.decode("utf-8"))
        except ValueError as exc:
            self.fail(f"not JSON: {exc}")
            return
        if not isinstance(record, dict):
            self.fail("not an object")
            return
        if record.get("format") != "dthub-export":
            self.fail(f"format {record.get('format')!r} is not dthub-export")
        if record.get("version") != "1.0":
            self.fail(f"version {record.get('version')!r} is not 1.0")
        self.exported_at = _moment(record.get("exported_at"))
        if self.exported_at is None:
            self.fail(f"exported_at {record.get('exported_at')!r} is not a time with a zone")
        if not _text(record.get("source")):
            self.fail("source is missing")
        if record.get("mode", "incremental") not in ("incremental", "full"):
            self.fail(f"mode {record.get('mode')!r}")
        if self.demo and set(record) != {"format", "version", "exported_at", "source", "mode"}:
            self.fail(f"fields {sorted(record)}")

    # --- organisations ------------------------------------------------------------------------
    def organisation(self, r: dict) -> None:
        if not self.fields(r, "organisations", "organisation"):
            return
        kind, code = r.get("kind"), r.get("ods_code")
        if kind not in ODS:
            self.fail(f"kind {kind!r}")
            return
        if not isinstance(code, str) or not ODS[kind].fullmatch(code):
            self.fail(f"ods_code {code!r} is not a {kind} ODS code")
            return
        if code in self.orgs:
            self.fail(f"ods_code {code} appears twice")
        if not _text(r.get("name")):
            self.fail("name is required")
        if "active" in r and not isinstance(r["active"], bool):
            self.fail("active is not a boolean")
        if "postcode" in r and r["postcode"] is not None:
            if not isinstance(r["postcode"], str) or (self.demo and not POSTCODE.fullmatch(r["postcode"])):
                self.fail(f"postcode {r['postcode']!r}")
        if kind != "practice":
            for name in ("icb", "list_size", "federations"):
                if name in r:
                    self.fail(f"{name} is for practices only")
        parent = r.get("parent")
        if kind == "icb" and "parent" in r:
            self.fail("an ICB has no parent")
        if kind == "pcn":
            self.ref_org(parent, "icb", "parent")
        if kind == "federation" and parent is not None:
            self.ref_org(parent, "icb", "parent")
        if kind == "practice":
            if parent is not None:
                self.ref_org(parent, "pcn", "parent")
            elif "parent" not in r and self.demo:
                self.fail("parent should be given (null for no PCN)")
            self.ref_org(r.get("icb"), "icb", "icb")
            size = r.get("list_size")
            if size is not None and not (_is_int(size) and size >= 0):
                self.fail(f"list_size {size!r}")
            feds = r.get("federations")
            if feds is not None:
                if not isinstance(feds, list) or len(set(map(str, feds))) != len(feds):
                    self.fail(f"federations {feds!r}")
                else:
                    for fed in feds:
                        if self.ref_org(fed, "federation", "federations[]") and self.demo:
                            fed_icb = self.orgs[fed].get("parent")
                            if fed_icb != r.get("icb"):
                                self.fail(f"member of {fed} of ICB {fed_icb} but in ICB {r.get('icb')}")
        self.orgs[code] = r

    def ref_org(self, code, kind: str, name: str) -> bool:
        if code is None:
            self.fail(f"{name} is required")
            return False
        if not isinstance(code, str) or not ODS[kind].fullmatch(code):
            self.fail(f"{name} {code!r} is not a {kind} ODS code")
            return False
        found = self.orgs.get(code)
        if found is None:
            self.fail(f"{name} {code} is not an earlier organisation")
            return False
        if found.get("kind") != kind:
            self.fail(f"{name} {code} is a {found.get('kind')}, not a {kind}")
            return False
        return True

    # --- assessments --------------------------------------------------------------------------
    def assessment(self, r: dict) -> None:
        if not self.fields(r, "assessments", "assessment"):
            return
        key = (r.get("id"), r.get("version"))
        if not isinstance(key[0], str) or not ID.fullmatch(key[0]):
            self.fail(f"id {key[0]!r}")
        if not isinstance(key[1], str) or not VERSION.fullmatch(key[1]):
            self.fail(f"version {key[1]!r}")
        if key in self.forms:
            self.fail(f"assessment {key} appears twice")
        kind, theme = r.get("kind"), r.get("theme")
        if kind not in ("global", "indepth"):
            self.fail(f"kind {kind!r}")
        if kind == "indepth" and not (_text(theme) and (not self.demo or theme in THEMES)):
            self.fail(f"theme {theme!r} for an indepth assessment")
        if kind == "global" and theme is not None:
            self.fail("a global assessment has no theme")
        if not _text(r.get("title")):
            self.fail("title is required")
        if r.get("status") not in ("draft", "active", "retired"):
            self.fail(f"status {r.get('status')!r}")
        if r.get("published") is not None and _day(r["published"]) is None:
            self.fail(f"published {r['published']!r}")
        questions: dict[str, dict] = {}
        sections = r.get("sections")
        if not isinstance(sections, list) or not sections:
            self.fail("sections must be a non-empty list")
            sections = []
        section_ids = set()
        for section in sections:
            if not self.fields(section, "section", "section"):
                continue
            sid = section.get("id")
            if not _text(sid) or (self.demo and sid not in SECTION_IDS):
                self.fail(f"section id {sid!r}")
            if sid in section_ids:
                self.fail(f"section {sid} appears twice")
            section_ids.add(sid)
            if not _text(section.get("title")):
                self.fail(f"section {sid} has no title")
            if not isinstance(section.get("questions"), list) or not section["questions"]:
                self.fail(f"section {sid} has no questions")
                continue
            for q in section["questions"]:
                self.question(q, questions)
        self.forms[key] = {"record": r, "questions": questions}

    def question(self, q: dict, questions: dict) -> None:
        if not self.fields(q, "question", "question"):
            return
        qid, kind = q.get("id"), q.get("type")
        if not _text(qid):
            self.fail(f"question id {qid!r}")
            return
        if qid in questions:
            self.fail(f"question {qid} appears twice in one version")
        if not _text(q.get("text")):
            self.fail(f"question {qid} has no text")
        if kind not in QUESTION_TYPES:
            self.fail(f"question {qid} type {kind!r}")
        if "required" in q and not isinstance(q["required"], bool):
            self.fail(f"question {qid} required is not a boolean")
        options = q.get("options")
        if kind in ("choice", "multi-choice"):
            if not isinstance(options, list) or not options:
                self.fail(f"question {qid} needs options")
            else:
                codes = []
                for o in options:
                    if not self.fields(o, "option", f"option of {qid}"):
                        continue
                    if not isinstance(o.get("code"), str) or not o["code"]:
                        self.fail(f"question {qid} option code {o.get('code')!r}")
                    codes.append(o.get("code"))
                    if not _text(o.get("label")):
                        self.fail(f"question {qid} option {o.get('code')} has no label")
                    if "score" in o and o["score"] is not None and not (_is_number(o["score"]) and o["score"] >= 0):
                        self.fail(f"question {qid} option {o.get('code')} score {o['score']!r}")
                if len(codes) != len(set(codes)):
                    self.fail(f"question {qid} option codes repeat")
        elif options is not None:
            self.fail(f"question {qid}: options only for choice and multi-choice")
        scores = q.get("scores")
        if scores is not None:
            if kind != "boolean":
                self.fail(f"question {qid}: scores only for boolean")
            elif not isinstance(scores, dict) or not set(scores) <= {"true", "false"} or not all(
                    _is_number(v) and v >= 0 for v in scores.values()):
                self.fail(f"question {qid} scores {scores!r}")
        when = q.get("enable_when")
        if when is not None:
            if not isinstance(when, dict) or set(when) != {"question", "answer"}:
                self.fail(f"question {qid} enable_when {when!r}")
            elif when["question"] not in questions:
                self.fail(f"question {qid} enable_when names {when['question']!r}, not an earlier question")
            else:
                problem = self.value_problem(questions[when["question"]], when["answer"])
                if problem:
                    self.fail(f"question {qid} enable_when answer: {problem}")
        questions[qid] = q

    def value_problem(self, q: dict, value) -> str | None:
        kind = q.get("type")
        codes = [o.get("code") for o in q.get("options") or [] if isinstance(o, dict)]
        if kind == "boolean" and not isinstance(value, bool):
            return f"{value!r} is not a boolean"
        if kind == "choice" and (not isinstance(value, str) or value not in codes):
            return f"{value!r} is not an option code"
        if kind == "multi-choice":
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v in codes for v in value):
                return f"{value!r} is not a list of option codes"
            if len(set(value)) != len(value):
                return f"{value!r} repeats a code"
        if kind == "integer" and not _is_int(value):
            return f"{value!r} is not an integer"
        if kind == "decimal" and not _is_number(value):
            return f"{value!r} is not a number"
        if kind == "text" and not isinstance(value, str):
            return f"{value!r} is not a string"
        if kind == "date" and _day(value) is None:
            return f"{value!r} is not a date"
        return None

    # --- submissions --------------------------------------------------------------------------
    def submission(self, r: dict) -> None:
        if not self.fields(r, "submissions", "submission"):
            return
        sid = r.get("id")
        if not isinstance(sid, str) or not ID.fullmatch(sid):
            self.fail(f"id {sid!r}")
        if sid in self.submissions:
            self.fail(f"submission {sid} appears twice")
        form = self.forms.get((r.get("assessment"), r.get("assessment_version")))
        if form is None:
            self.fail(f"assessment {r.get('assessment')} {r.get('assessment_version')} is not earlier in the package")
        elif self.demo and form["record"].get("status") == "draft":
            self.fail("a submission of a draft assessment")
        self.ref_org(r.get("practice"), "practice", "practice")
        status = r.get("status")
        if status not in ("in-progress", "completed", "amended", "entered-in-error"):
            self.fail(f"status {status!r}")
        started = self.event(r.get("started"), "started", required=self.demo)
        submitted = self.event(r.get("submitted"), "submitted", required=status != "in-progress")
        if self.demo:
            if status == "in-progress" and r.get("submitted") is not None:
                self.fail("an in-progress submission with a submitted time")
            if started and submitted and submitted < started:
                self.fail("submitted before started")
            if form and started and form["record"].get("published"):
                if started.date() < date.fromisoformat(form["record"]["published"]):
                    self.fail("started before the assessment was published")
        author = r.get("author")
        if author is not None and self.fields(author, "author", "author"):
            for name in ("name", "role", "email"):
                if name in author and not isinstance(author[name], str):
                    self.fail(f"author {name} is not a string")
            if self.demo and not (isinstance(author.get("email"), str)
                                  and re.fullmatch(r"[a-z]+(\.[a-z]+)+[0-9]*@nhs\.net", author["email"])):
                self.fail(f"author email {author.get('email')!r}")
        answers = r.get("answers")
        if not isinstance(answers, list):
            self.fail("answers is not a list")
            answers = []
        given: dict = {}
        for a in answers:
            if not self.fields(a, "answer", "answer"):
                continue
            qid = a.get("question")
            if qid in given:
                self.fail(f"question {qid} answered twice")
            if "value" not in a:
                self.fail(f"answer to {qid} has no value")
                continue
            given[qid] = a["value"]
        if form is not None:
            questions = form["questions"]
            for qid, value in given.items():
                q = questions.get(qid)
                if q is None:
                    self.fail(f"answer to unknown question {qid!r}")
                    continue
                problem = self.value_problem(q, value)
                if problem:
                    self.fail(f"answer to {qid}: {problem}")
                if not self.enabled(q, given):
                    self.fail(f"answer to {qid}, which is not enabled")
            if status in ("completed", "amended"):
                for qid, q in questions.items():
                    if q.get("required") and self.enabled(q, given) and qid not in given:
                        self.fail(f"{status} but required question {qid} is not answered")
        self.submissions[sid] = r

    @staticmethod
    def enabled(q: dict, given: dict) -> bool:
        when = q.get("enable_when")
        if when is None:
            return True
        if when["question"] not in given:
            return False
        value, expected = given[when["question"]], when["answer"]
        return type(value) is type(expected) and value == expected

    # --- actions ------------------------------------------------------------------------------
    def action(self, r: dict) -> None:
        if not self.fields(r, "actions", "action"):
            return
        aid = r.get("id")
        if not isinstance(aid, str) or not ID.fullmatch(aid):
            self.fail(f"id {aid!r}")
        if aid in self.action_ids:
            self.fail(f"action {aid} appears twice")
        self.action_ids.add(aid)
        practice = r.get("practice")
        has_practice = self.ref_org(practice, "practice", "practice")
        sid, qid = r.get("submission"), r.get("question")
        if sid is not None:
            submission = self.submissions.get(sid)
            if submission is None:
                self.fail(f"submission {sid!r} is not an earlier submission")
            else:
                if submission.get("practice") != practice:
                    self.fail(f"submission {sid} is of practice {submission.get('practice')}, not {practice}")
                form = self.forms.get((submission.get("assessment"), submission.get("assessment_version")))
                if qid is not None and (form is None or qid not in form["questions"]):
                    self.fail(f"question {qid!r} is not in the submission's assessment version")
                if self.demo and submission.get("status") not in ("completed", "amended"):
                    self.fail(f"action on a {submission.get('status')} submission")
        elif qid is not None:
            self.fail("a question without a submission")
        if not _text(r.get("title")):
            self.fail("title is required")
        if r.get("description") is not None and not isinstance(r["description"], str):
            self.fail("description is not a string")
        status = r.get("status")
        if status not in ("proposed", "agreed", "in-progress", "on-hold", "completed", "cancelled"):
            self.fail(f"status {status!r}")
        if r.get("priority") not in ("routine", "urgent"):
            self.fail(f"priority {r.get('priority')!r}")
        owner = r.get("owner")
        if owner is not None and self.fields(owner, "owner", "owner"):
            allowed = {practice}
            if has_practice:
                allowed |= {self.orgs[practice].get("parent"), self.orgs[practice].get("icb")}
            if owner.get("organisation") not in allowed - {None}:
                self.fail(f"owner {owner.get('organisation')!r} is not the practice, its PCN or its ICB")
            for name in ("name", "role"):
                if name in owner and not isinstance(owner[name], str):
                    self.fail(f"owner {name} is not a string")
        created = self.event(r.get("created"), "created", required=self.demo)
        if r.get("due") is not None and _day(r["due"]) is None:
            self.fail(f"due {r['due']!r}")
        completed = self.event(r.get("completed"), "completed", required=status == "completed")
        if self.demo:
            if status != "completed" and r.get("completed") is not None:
                self.fail(f"completed time on a {status} action")
            if created and completed and completed < created:
                self.fail("completed before created")
            if created and sid in self.submissions:
                submitted = _moment(self.submissions[sid].get("submitted"))
                if submitted and created < submitted:
                    self.fail("created before its submission was submitted")
        impact = r.get("impact")
        if impact is not None and self.fields(impact, "impact", "impact"):
            if impact.get("category") not in ("time-saved", "patient-access", "patient-safety", "cost",
                                              "staff-experience", "other"):
                self.fail(f"impact category {impact.get('category')!r}")
            if "value" in impact and impact["value"] is not None and not _is_number(impact["value"]):
                self.fail(f"impact value {impact['value']!r}")
            if "unit" in impact and impact["unit"] is not None and not isinstance(impact["unit"], str):
                self.fail(f"impact unit {impact['unit']!r}")
            if self.demo and not (_is_number(impact.get("value")) and _text(impact.get("unit"))):
                self.fail("impact without value and unit")
        notes = r.get("notes")
        if notes is not None:
            if not isinstance(notes, list):
                self.fail("notes is not a list")
            else:
                for note in notes:
                    if self.fields(note, "note", "note"):
                        moment = self.event(note.get("at"), "note at")
                        if not isinstance(note.get("text"), str):
                            self.fail("note text is not a string")
                        if self.demo and moment and created and moment < created:
                            self.fail("a note before the action was created")

    # --- usage --------------------------------------------------------------------------------
    def usage(self, r: dict) -> None:
        if not self.fields(r, "usage", "usage row"):
            return
        org = r.get("organisation")
        found = self.orgs.get(org)
        if found is None or found.get("kind") not in ("practice", "pcn", "icb"):
            self.fail(f"organisation {org!r} is not an earlier practice, PCN or ICB")
        if not isinstance(r.get("period"), str) or not PERIOD.fullmatch(r["period"]):
            self.fail(f"period {r.get('period')!r}")
        key = (org, r.get("period"))
        if key in self.usage_keys:
            self.fail(f"usage {key} appears twice")
        self.usage_keys.add(key)
        for name in COUNTS:
            if name in r and not (_is_int(r[name]) and r[name] >= 0):
                self.fail(f"{name} {r[name]!r} is not an integer >= 0")
        if self.demo:
            if any(not _is_int(r.get(n)) for n in COUNTS):
                self.fail("a count is missing")
                return
            if r["assessments_completed"] > r["assessments_started"]:
                self.fail("more assessments completed than started")
            if r["logins"] < r["active_users"]:
                self.fail("fewer logins than active users")
            if r["active_users"] == 0 and (r["logins"] or r["assessments_started"] or r["actions_created"]):
                self.fail("activity without active users")
            if self.exported_at and r["period"] >= self.exported_at.strftime("%Y-%m"):
                self.fail(f"period {r['period']} is not a complete month before the export")

    # --- contracts ----------------------------------------------------------------------------
    def contract(self, r: dict) -> None:
        if not self.fields(r, "contracts", "contract"):
            return
        cid = r.get("id")
        if not isinstance(cid, str) or not ID.fullmatch(cid):
            self.fail(f"id {cid!r}")
        if cid in self.contract_ids:
            self.fail(f"contract {cid} appears twice")
        self.contract_ids.add(cid)
        kind, holder = r.get("kind"), r.get("holder")
        if kind not in ("icb", "pcn", "federation"):
            self.fail(f"kind {kind!r}")
            return
        has_holder = self.ref_org(holder, kind, "holder")
        covers = r.get("covers")
        if covers is None:
            if kind == "federation":
                self.fail("covers is required for a federation")
        elif not isinstance(covers, list) or len(set(map(str, covers))) != len(covers):
            self.fail(f"covers {covers!r}")
        else:
            for code in covers:
                if self.ref_org(code, "practice", "covers[]") and has_holder:
                    practice = self.orgs[code]
                    beneath = {"icb": practice.get("icb") == holder, "pcn": practice.get("parent") == holder,
                               "federation": holder in (practice.get("federations") or [])}[kind]
                    if not beneath:
                        self.fail(f"covers {code}, which is not beneath {holder}")
        start, end = _day(r.get("start")), _day(r.get("end"))
        if start is None or end is None:
            self.fail(f"start {r.get('start')!r} / end {r.get('end')!r}")
        elif end < start:
            self.fail("end before start")
        if r.get("status") not in ("active", "suspended", "ended"):
            self.fail(f"status {r.get('status')!r}")

    HANDLERS = {"organisations.ndjson": "organisation", "assessments.ndjson": "assessment",
                "submissions.ndjson": "submission", "actions.ndjson": "action", "usage.ndjson": "usage",
                "contracts.ndjson": "contract"}

    def ndjson(self, name: str, raw: bytes) -> None:
        self.where = name
        if b"\r" in raw:
            self.fail("has carriage returns (line ends must be \\n)")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.fail(f"not UTF-8: {exc}")
            return
        if text and not text.endswith("\n"):
            self.fail("the last line has no line end")
        handler = getattr(self, self.HANDLERS[name])
        for number, line in enumerate(text.split("\n"), start=1):
            self.where = f"{name}:{number}"
            if not line.strip():
                if self.demo and number < text.count("\n") + 1:
                    self.fail("blank line")
                continue
            try:
                record = _load(line)
            except ValueError as exc:
                self.fail(f"not JSON: {exc}")
                continue
            if not isinstance(record, dict):
                self.fail("not a JSON object")
                continue
            handler(record)


def check_package(path: Path, *, demo_rules: bool = True) -> list[str]:
    files, zip_order = read_package(Path(path))
    checker = Checker(demo_rules)
    unknown = sorted(set(files) - set(SPEC_FILES))
    if unknown:
        checker.errors.append(f"unknown files {unknown}")
    if zip_order:
        known = [n for n in zip_order if n in SPEC_FILES]
        if known != [n for n in SPEC_FILES if n in known]:
            checker.errors.append(f"zip entries not in spec order: {known}")
    if "manifest.json" not in files:
        checker.errors.append("manifest.json is missing")
        return checker.errors
    checker.manifest(files["manifest.json"])
    for name in SPEC_FILES[1:]:
        if name in files:
            checker.ndjson(name, files[name])
    return checker.errors


def read_records(path: Path, name: str) -> list[dict]:
    files, _ = read_package(Path(path))
    return [json.loads(line) for line in files.get(f"{name}.ndjson", b"").decode().splitlines() if line.strip()]


# --- the checker's own tests: it must catch what the spec forbids --------------------------------

MANIFEST = {"format": "dthub-export", "version": "1.0", "exported_at": "2026-11-01T02:00:00Z",
            "source": "dthub-test", "mode": "incremental"}
ORGS = [
    {"ods_code": "QHM", "kind": "icb", "name": "NHS NORTH EAST AND NORTH CUMBRIA INTEGRATED CARE BOARD",
     "active": True},
    {"ods_code": "U89141", "kind": "pcn", "name": "STOCKTON PCN", "parent": "QHM", "active": True},
    {"ods_code": "FED01", "kind": "federation", "name": "TEES GP FEDERATION", "parent": "QHM", "active": True},
    {"ods_code": "A81001", "kind": "practice", "name": "THE DENSHAM SURGERY", "parent": "U89141", "icb": "QHM",
     "postcode": "TS18 1HU", "active": True, "list_size": 9120, "federations": ["FED01"]},
    {"ods_code": "A81002", "kind": "practice", "name": "QUEENS PARK MEDICAL CENTRE", "parent": None, "icb": "QHM",
     "postcode": "TS18 2AW", "active": True, "list_size": 7000, "federations": []},
]
FORM = {"id": "global", "version": "2026.1", "kind": "global", "theme": None, "title": "Global",
        "status": "active", "published": "2026-04-01", "sections": [
            {"id": "leadership", "title": "Leadership", "questions": [
                {"id": "LD1", "text": "Digital lead?", "type": "boolean", "required": True,
                 "scores": {"true": 4, "false": 0}},
                {"id": "LD2", "text": "Strategy?", "type": "choice", "required": True,
                 "options": [{"code": "0", "label": "No", "score": 0}, {"code": "1", "label": "Yes", "score": 1}],
                 "enable_when": {"question": "LD1", "answer": True}},
                {"id": "LD3", "text": "Barriers?", "type": "text", "required": False}]}]}
SUBMISSION = {"id": "S-1", "assessment": "global", "assessment_version": "2026.1", "practice": "A81001",
              "status": "completed", "started": "2026-05-02T09:00:00Z", "submitted": "2026-05-10T10:22:00Z",
              "author": {"name": "Jo Bloggs", "role": "Practice Manager", "email": "jo.bloggs@nhs.net"},
              "answers": [{"question": "LD1", "value": True}, {"question": "LD2", "value": "1"}]}
ACTION = {"id": "A-1", "practice": "A81001", "submission": "S-1", "question": "LD2", "title": "Plan",
          "description": "Write a plan.", "status": "completed", "priority": "routine",
          "owner": {"organisation": "U89141", "name": "Jo Bloggs", "role": "Practice Manager"},
          "created": "2026-05-11T08:00:00Z", "due": "2026-09-30", "completed": "2026-06-01T08:00:00Z",
          "impact": {"category": "time-saved", "summary": "s", "value": 12.5, "unit": "hours/month"},
          "notes": [{"at": "2026-05-12T12:00:00Z", "text": "agreed"}]}
USAGE = {"organisation": "A81001", "period": "2026-10", "active_users": 5, "logins": 41, "assessments_started": 1,
         "assessments_completed": 1, "actions_created": 3, "actions_completed": 1}
CONTRACT = {"id": "C-FED01-2026", "holder": "FED01", "kind": "federation", "covers": ["A81001"],
            "start": "2026-04-01", "end": "2027-03-31", "status": "active"}


def write_package(directory: Path, manifest=None, **files: list[dict]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "manifest.json").write_text(json.dumps(manifest or MANIFEST))
    defaults = {"organisations": ORGS, "assessments": [FORM], "submissions": [SUBMISSION], "actions": [ACTION],
                "usage": [USAGE], "contracts": [CONTRACT]}
    defaults.update(files)
    for name, records in defaults.items():
        (directory / f"{name}.ndjson").write_text("".join(json.dumps(r) + "\n" for r in records))
    return directory


def changed(record: dict, **changes) -> dict:
    out = json.loads(json.dumps(record))
    for key, value in changes.items():
        if value is ...:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def test_checker_accepts_the_spec_examples(tmp_path):
    assert check_package(write_package(tmp_path)) == []


@pytest.mark.parametrize("files, expected", [
    ({"organisations": [changed(ORGS[0], ods_code="X1")] + ORGS[1:]}, "not a icb ODS code"),
    ({"organisations": ORGS[:1] + [changed(ORGS[1], parent=...)] + ORGS[2:]}, "parent is required"),
    ({"organisations": [ORGS[3]] + ORGS}, "not an earlier organisation"),
    ({"organisations": ORGS[:3] + [changed(ORGS[3], list_size=-1), ORGS[4]]}, "list_size"),
    ({"organisations": ORGS[:3] + [changed(ORGS[3], icb=...), ORGS[4]]}, "icb is required"),
    ({"organisations": ORGS + [changed(ORGS[4], ods_code="A81003", colour="red")]}, "unknown fields"),
    ({"assessments": [changed(FORM, version="2026.1-beta")]}, "version"),
    ({"assessments": [changed(FORM, kind="indepth")]}, "theme"),
    ({"submissions": [changed(SUBMISSION, answers=[{"question": "LD1", "value": "yes"},
                                                   {"question": "LD2", "value": "1"}])]}, "not a boolean"),
    ({"submissions": [changed(SUBMISSION, answers=[{"question": "LD1", "value": False},
                                                   {"question": "LD2", "value": "1"}])]}, "not enabled"),
    ({"submissions": [changed(SUBMISSION, answers=[{"question": "LD1", "value": True}])]}, "required question LD2"),
    ({"submissions": [changed(SUBMISSION, answers=[{"question": "LD9", "value": True}])]}, "unknown question"),
    ({"submissions": [changed(SUBMISSION, answers=[{"question": "LD1", "value": True},
                                                   {"question": "LD2", "value": "7"}])]}, "not an option code"),
    ({"submissions": [changed(SUBMISSION, submitted=None)]}, "submitted is required"),
    ({"submissions": [changed(SUBMISSION, id="S 1")]}, "id 'S 1'"),
    ({"actions": [changed(ACTION, completed=None)]}, "completed is required"),
    ({"actions": [changed(ACTION, question="IC1")]}, "not in the submission's assessment version"),
    ({"actions": [changed(ACTION, owner={"organisation": "QXX"})]}, "not the practice, its PCN or its ICB"),
    ({"actions": [changed(ACTION, submission="S-9")]}, "not an earlier submission"),
    ({"usage": [changed(USAGE, logins=-1)]}, "not an integer >= 0"),
    ({"usage": [USAGE, USAGE]}, "appears twice"),
    ({"contracts": [changed(CONTRACT, covers=None)]}, "covers is required for a federation"),
    ({"contracts": [changed(CONTRACT, covers=["A81002"])]}, "not beneath FED01"),
    ({"contracts": [changed(CONTRACT, holder="U89141")]}, "is a pcn, not a federation"),
])
def test_checker_reports_each_broken_rule(tmp_path, files, expected):
    errors = check_package(write_package(tmp_path, **files))
    assert any(expected in e for e in errors), errors


def test_checker_refuses_a_wrong_manifest_version(tmp_path):
    errors = check_package(write_package(tmp_path, manifest=changed(MANIFEST, version="2.0")))
    assert any("version" in e for e in errors)


def test_checker_requires_spec_order_in_a_zip(tmp_path):
    package = write_package(tmp_path / "pkg")
    target = tmp_path / "p.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for name in reversed(SPEC_FILES):
            archive.write(package / name, name)
    assert any("spec order" in e for e in check_package(target))


def test_read_package_reads_a_zip_like_a_directory(tmp_path):
    package = write_package(tmp_path / "pkg")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in SPEC_FILES:
            archive.write(package / name, name)
    (tmp_path / "p.zip").write_bytes(buffer.getvalue())
    assert read_package(tmp_path / "p.zip")[0] == read_package(package)[0]
