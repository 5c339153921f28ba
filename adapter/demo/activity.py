"""One practice's submissions, actions and monthly usage, from its own seeded random stream.

Each practice draws from a stream seeded by (seed, its ODS code), so its records are the same
whichever other practices are in the package, and the package can be written practice by
practice without holding it in memory.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from .action_texts import NOTES, STANDALONE, TEMPLATES
from .answers import fill, shortfall
from .forms import Form
from .ods import Practice
from .people import ICB_ROLES, PCN_ROLES, Person, person, practice_staff
from .timeline import Timeline, at, iso_time, month_end, period

DONE = ("completed", "amended")
ACTION_STATUSES = ("proposed", "agreed", "in-progress", "on-hold", "completed", "cancelled")


@dataclass(frozen=True)
class FormSet:
    global_by_year: dict[int, Form]  # financial year -> the Global Assessment version of that year
    indepth: tuple[Form, ...]  # active In-depth Assessments


@dataclass
class Activity:
    submissions: list[dict] = field(default_factory=list)
    actions: list[dict] = field(default_factory=list)
    usage: list[dict] = field(default_factory=list)


class OrgStaff:
    """The few PCN and ICB people who own actions, the same in every practice's records."""

    def __init__(self, seed: int):
        self.seed = seed
        self._people: dict[str, list[Person]] = {}

    def people(self, code: str, roles: tuple[str, ...]) -> list[Person]:
        if code not in self._people:
            rng = random.Random(f"dthub-demo/{self.seed}/org-staff/{code}")
            self._people[code] = [person(rng, role) for role in roles]
        return self._people[code]


@dataclass
class _Planned:
    form: Form
    started: datetime
    status: str
    maturity: float
    submitted: datetime | None = None
    answers: dict = field(default_factory=dict)
    record: dict | None = None


def maturity(seed: int, practice: Practice, rng: random.Random) -> float:
    """Digital maturity 0..1: the practice's own, nudged by its PCN (PCNs share tools and leads)."""
    shared = 0.0
    if practice.pcn:
        shared = random.Random(f"dthub-demo/{seed}/pcn-maturity/{practice.pcn}").uniform(-0.12, 0.12)
    return min(0.97, max(0.03, rng.betavariate(2.2, 2.0) + shared))


def _status(rng: random.Random, age_days: int) -> str:
    r = rng.random()
    if age_days < 45 and r < 0.5:
        return "in-progress"  # recently started, not yet finished
    if r < 0.03:
        return "in-progress"  # abandoned part way
    if r < 0.045:
        return "entered-in-error"
    if r < 0.13:
        return "amended"
    return "completed"


def _plan(form: Form, day: date, rng: random.Random, timeline: Timeline, level: float,
          status: str | None = None) -> _Planned:
    started = at(day, rng)
    status = status or _status(rng, (timeline.last_day - day).days)
    planned = _Planned(form, started, status, level)
    if status != "in-progress":
        # Started and submitted within one calendar month, so monthly usage never counts more
        # completions than starts.
        last = min(month_end(day), timeline.last_day, day + timedelta(days=14))
        sub_day = day + timedelta(days=rng.randint(0, (last - day).days))
        if sub_day == day:
            planned.submitted = started + timedelta(minutes=rng.randint(20, 240))
        else:
            planned.submitted = at(sub_day, rng)
    return planned


def _plan_submissions(rng: random.Random, forms: FormSet, timeline: Timeline, level: float) -> list[_Planned]:
    plans: list[_Planned] = []
    for index, (year, form) in enumerate(sorted(forms.global_by_year.items())):
        first, last = timeline.year_window(year)
        if last < first:
            continue
        # By the end of a year nearly every practice has started; part way, fewer have.
        elapsed = (last - date(year, 4, 1)).days + 1
        if rng.random() >= 0.9 * min(1.0, elapsed / 240):
            continue
        # Most practices answer early in the year, some late.
        near = first + timedelta(days=int((last - first).days * rng.betavariate(1.4, 2.6)))
        day = timeline.working_day(rng, near, min(near + timedelta(days=4), last)) or near
        grown = min(0.98, level + 0.06 * index)  # practices improve year on year
        plan = _plan(form, day, rng, timeline, grown)
        plans.append(plan)
        if plan.status == "entered-in-error":  # a mistaken submission is redone a few days later
            again = timeline.working_day(rng, day + timedelta(days=1), min(last, day + timedelta(days=10)))
            if again:
                plans.append(_plan(form, again, rng, timeline, grown, "completed"))
    for form in forms.indepth:
        if rng.random() >= 0.03 + 0.15 * level:  # a third of practices take an In-depth Assessment
            continue
        day = timeline.working_day(rng, max(form.published, timeline.start), timeline.last_day)
        if day:
            plans.append(_plan(form, day, rng, timeline, level))
    plans.sort(key=lambda p: (p.started, p.form.id))
    return plans


def _author(rng: random.Random, staff: list[Person], form: Form) -> dict | None:
    if rng.random() < 0.04:
        return None  # author is optional in the export
    weights = [5 if p.role in ("Practice Manager", "Digital Lead") else 2 for p in staff]
    if form.kind == "indepth":
        weights = [3 if p.role != "Practice Manager" else 2 for p in staff]
    return rng.choices(staff, weights=weights)[0].author()


def _choose(rng: random.Random, items: list, weights: list[float], k: int) -> list:
    items, weights, chosen = list(items), list(weights), []
    for _ in range(min(k, len(items))):
        index = rng.choices(range(len(items)), weights=weights)[0]
        chosen.append(items.pop(index))
        weights.pop(index)
    return chosen


def _action(rng: random.Random, practice: Practice, template: tuple, after: datetime, timeline: Timeline,
            staff: list[Person], org_staff: OrgStaff, submission: str | None, question: str | None) -> dict:
    title, description, category, summary, unit, low, high = template
    first = after.date() + timedelta(days=rng.randint(0, 21))
    day = timeline.working_day(rng, first, min(first + timedelta(days=3), timeline.last_day))
    created = at(day or min(first, timeline.last_day), rng)
    if created <= after:
        created = after + timedelta(minutes=rng.randint(10, 90))
    age = (timeline.last_day - created.date()).days
    if age < 14:
        status = rng.choices(("proposed", "agreed", "in-progress"), weights=(45, 35, 20))[0]
    else:
        done = min(50, 15 + age // 10)  # older actions are more often finished
        status = rng.choices(ACTION_STATUSES, weights=(6, 12, 28, 8, done, 8))[0]
    completed = None
    if status == "completed":
        if age < 5:
            status = "in-progress"
        else:
            completed = at(created.date() + timedelta(days=rng.randint(5, min(age, 200))), rng)
            if completed <= created:
                completed = created + timedelta(hours=2)
    due = created.date() + timedelta(days=rng.choice((30, 45, 60, 90, 120, 180)))

    r = rng.random()
    if r < 0.78 or not practice.pcn and r < 0.9:
        who, org = rng.choice(staff), practice.code
    elif r < 0.9:
        who, org = rng.choice(org_staff.people(practice.pcn, PCN_ROLES)), practice.pcn
    else:
        who, org = rng.choice(org_staff.people(practice.icb, ICB_ROLES)), practice.icb
    owner = {"organisation": org} if rng.random() < 0.08 else {"organisation": org, "name": who.name,
                                                                   "role": who.role}
    impact = None
    if rng.random() < 0.85:
        value = rng.uniform(low, high)
        value = round(value, 1) if unit == "hours/month" else float(round(value, -1 if high >= 100 else 0))
        impact = {"category": category, "summary": summary, "value": value, "unit": unit}
    notes = []
    end = completed or datetime.combine(timeline.last_day, time(18, 0), tzinfo=created.tzinfo)
    span = int((end - created).total_seconds() // 60)
    if span > 60:
        count = rng.choices((0, 1, 2, 3), weights=(3, 4, 2, 1))[0]
        moments = sorted(created + timedelta(minutes=rng.randint(30, span)) for _ in range(count))
        texts = rng.sample(NOTES, count)
        notes = [{"at": iso_time(m), "text": t} for m, t in zip(moments, texts)]
    return {"id": None, "practice": practice.code, "submission": submission, "question": question,
            "title": title, "description": description, "status": status,
            "priority": "urgent" if rng.random() < (0.3 if category == "patient-safety" else 0.1) else "routine",
            "owner": owner, "created": iso_time(created), "due": due.isoformat(),
            "completed": iso_time(completed) if completed else None, "impact": impact, "notes": notes}


def practice_activity(practice: Practice, forms: FormSet, timeline: Timeline, seed: int,
                      org_staff: OrgStaff) -> Activity:
    rng = random.Random(f"dthub-demo/{seed}/activity/{practice.code}")
    level = maturity(seed, practice, rng)
    staff = practice_staff(rng)
    facts: dict = {}
    activity = Activity()

    plans = _plan_submissions(rng, forms, timeline, level)
    for number, plan in enumerate(plans, start=1):
        plan.answers = fill(plan.form, rng, plan.maturity, plan.started.date(), facts,
                            complete=plan.status != "in-progress")
        plan.record = {
            "id": f"S-{practice.code}-{number:02d}", "assessment": plan.form.id,
            "assessment_version": plan.form.version, "practice": practice.code, "status": plan.status,
            "started": iso_time(plan.started), "submitted": iso_time(plan.submitted) if plan.submitted else None,
            "author": _author(rng, staff, plan.form),
            "answers": [{"question": q, "value": v} for q, v in plan.answers.items()]}
        activity.submissions.append(plan.record)

    if rng.random() < 0.3 + 0.35 * level:  # about half the practices plan actions in the Hub
        for plan in plans:
            if plan.status not in DONE or rng.random() > 0.85:
                continue
            candidates = [q for q in plan.form.questions if q.id in TEMPLATES]
            k = rng.randint(2, 5) if plan.form.kind == "global" else rng.randint(1, 3)
            weights = [0.15 + shortfall(q, plan.answers) for q in candidates]
            for question in _choose(rng, candidates, weights, k):
                template = rng.choice(TEMPLATES[question.id])
                activity.actions.append(_action(rng, practice, template, plan.submitted, timeline, staff,
                                                org_staff, plan.record["id"], question.id))
        if rng.random() < 0.15:
            day = timeline.working_day(rng, timeline.start, timeline.last_day)
            if day:
                activity.actions.append(_action(rng, practice, rng.choice(STANDALONE), at(day, rng), timeline,
                                                staff, org_staff, None, None))
    activity.actions.sort(key=lambda a: (a["created"], a["submission"] or "", a["question"] or ""))
    for number, action in enumerate(activity.actions, start=1):
        action["id"] = f"A-{practice.code}-{number:03d}"

    activity.usage = _usage(rng, practice, activity, timeline, len(staff), level)
    return activity


def _usage(rng: random.Random, practice: Practice, activity: Activity, timeline: Timeline, staff: int,
           level: float) -> list[dict]:
    months = [period(m) for m in timeline.usage_months]
    if activity.submissions:
        onboarded = min(s["started"][:7] for s in activity.submissions)
    elif rng.random() < 0.35:
        onboarded = rng.choice(months)
    else:
        return []  # never used the Hub
    counts = {m: [0, 0, 0, 0] for m in months}
    for s in activity.submissions:
        if s["started"][:7] in counts:
            counts[s["started"][:7]][0] += 1
        if s["status"] in DONE and s["submitted"][:7] in counts:
            counts[s["submitted"][:7]][1] += 1
    for a in activity.actions:
        if a["created"][:7] in counts:
            counts[a["created"][:7]][2] += 1
        if a["completed"] and a["completed"][:7] in counts:
            counts[a["completed"][:7]][3] += 1
    rows = []
    for month in months:
        if month < onboarded:
            continue
        started, completed, created, finished = counts[month]
        busy = started + completed + created + finished
        if busy == 0 and rng.random() < 0.3 - 0.2 * level:
            users = logins = 0
        else:
            users = rng.randint(1, staff) + (1 if busy > 2 else 0)
            logins = users * rng.randint(1, 5) + busy * rng.randint(1, 3)
        rows.append({"organisation": practice.code, "period": month, "active_users": users, "logins": logins,
                     "assessments_started": started, "assessments_completed": completed,
                     "actions_created": created, "actions_completed": finished})
    return rows


def org_usage(codes: list[str], timeline: Timeline, seed: int, share: float, users: tuple[int, int]):
    """Monthly rows for some PCNs or ICBs: their staff log in to review practices' progress."""
    for code in codes:
        rng = random.Random(f"dthub-demo/{seed}/org-usage/{code}")
        if rng.random() >= share:
            continue
        for month in timeline.usage_months:
            active = rng.randint(*users)
            yield {"organisation": code, "period": period(month), "active_users": active,
                   "logins": active * rng.randint(2, 9), "assessments_started": 0, "assessments_completed": 0,
                   "actions_created": 0, "actions_completed": 0}
