"""Assessment definitions: the Global Assessment and the In-depth Assessments.

Each question carries, besides what the export holds, a hint for the answer generator (`gen`):
boolean and scored choice: a difficulty in 0..1 (a practice of that maturity is even odds);
unscored choice: option weights; multi-choice: a difficulty; integer and decimal:
(low, high, mode); text: answers to pick from; date: (earliest, latest) days from the start
of the submission.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .timeline import Timeline, add_months, financial_year


@dataclass(frozen=True)
class Option:
    code: str
    label: str
    score: float | None = None


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    type: str
    required: bool = False
    options: tuple[Option, ...] = ()
    scores: tuple[float, float] | None = None  # boolean: (true, false)
    when: tuple[str, object] | None = None  # enable_when: (question, answer)
    gen: tuple = ()
    since: int = 0  # the first Global Assessment version (0 = oldest in the window) that asks it
    fact: str | None = None  # a fact about the practice (this key): the same answer every time

    def to_record(self) -> dict:
        record: dict = {"id": self.id, "text": self.text, "type": self.type, "required": self.required}
        if self.options:
            record["options"] = [{"code": o.code, "label": o.label} | ({} if o.score is None else {"score": o.score})
                                 for o in self.options]
        if self.scores is not None:
            record["scores"] = {"true": self.scores[0], "false": self.scores[1]}
        if self.when is not None:
            record["enable_when"] = {"question": self.when[0], "answer": self.when[1]}
        return record


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Form:
    id: str
    version: str
    kind: str
    theme: str | None
    title: str
    status: str
    published: date | None
    sections: tuple[Section, ...]

    @property
    def questions(self) -> list[Question]:
        return [q for s in self.sections for q in s.questions]

    def question(self, qid: str) -> Question:
        return next(q for q in self.questions if q.id == qid)

    def to_record(self) -> dict:
        return {"id": self.id, "version": self.version, "kind": self.kind, "theme": self.theme,
                "title": self.title, "status": self.status,
                "published": self.published.isoformat() if self.published else None,
                "sections": [{"id": s.id, "title": s.title, "questions": [q.to_record() for q in s.questions]}
                             for s in self.sections]}


def yes_no(qid, text, yes=2, *, required=True, difficulty=0.5, when=None, since=0) -> Question:
    return Question(qid, text, "boolean", required, scores=(yes, 0), when=when, gen=(difficulty,), since=since)


def scale(qid, text, labels, *, required=True, difficulty=0.5, when=None, since=0) -> Question:
    options = tuple(Option(str(i), label, i) for i, label in enumerate(labels))
    return Question(qid, text, "choice", required, options, when=when, gen=(difficulty,), since=since)


def pick(qid, text, options, weights, *, fact, required=True, when=None, since=0) -> Question:
    return Question(qid, text, "choice", required, tuple(Option(c, label) for c, label in options),
                    when=when, gen=tuple(weights), since=since, fact=fact)


def multi(qid, text, options, *, required=False, difficulty=0.5, when=None, since=0) -> Question:
    return Question(qid, text, "multi-choice", required, tuple(Option(c, label, s) for c, label, s in options),
                    when=when, gen=(difficulty,), since=since)


def number(qid, text, kind, low, high, mode, *, required=False, when=None, since=0) -> Question:
    return Question(qid, text, kind, required, when=when, gen=(low, high, mode), since=since)


def free_text(qid, text, answers, *, when=None, since=0) -> Question:
    return Question(qid, text, "text", False, when=when, gen=tuple(answers), since=since)


def when_date(qid, text, earliest, latest, *, required=False, when=None, since=0) -> Question:
    return Question(qid, text, "date", required, when=when, gen=(earliest, latest), since=since)


STRATEGY = ("Not started", "Planning", "Partially implemented", "Embedded", "Optimised")
CONFIDENCE = ("Not confident", "Somewhat confident", "Confident", "Very confident")

GLOBAL_SECTIONS = (
    Section("leadership", "Leadership and digital strategy", (
        yes_no("LD1", "Does the practice have a named digital lead?", 4, difficulty=0.3),
        scale("LD2", "How far has the practice's digital strategy been implemented?", STRATEGY,
              when=("LD1", True)),
        scale("LD3", "How often does the partnership review digital plans and progress?",
              ("Never", "Annually", "Quarterly", "Monthly"), difficulty=0.55),
        multi("LD4", "Who is involved in decisions about digital tools?", (
            ("partners", "GP partners", 1), ("manager", "Practice manager", 1),
            ("clinicians", "Nurses and other clinicians", 1), ("admin", "Reception and admin staff", 1),
            ("ppg", "Patient participation group", 1), ("pcn", "PCN Digital and Transformation Lead", 1))),
        when_date("LD5", "When was the digital strategy last reviewed?", -540, -7, when=("LD1", True)),
        free_text("LD6", "What are the main barriers to digital change in the practice?", (
            "Time: the team is stretched by day-to-day demand.",
            "Funding for new equipment and licences.",
            "Staff confidence with new systems.",
            "Too many separate systems that do not talk to each other.",
            "Slow broadband at the branch surgery.",
            "Change fatigue after the telephony and online consultation changes.",
            "Uncertainty about what the ICB will fund next year.")),
    )),
    Section("infrastructure", "Infrastructure and cyber security", (
        scale("IC1", "How reliable is the practice's IT equipment?", ("Poor", "Adequate", "Good", "Excellent"),
              difficulty=0.45),
        number("IC2", "How many clinical workstations are more than five years old?", "integer", 0, 30, 4,
               required=True),
        yes_no("IC3", "Was the Data Security and Protection Toolkit submitted by the 30 June deadline?", 4,
               difficulty=0.2),
        scale("IC4", "What was the practice's DSPT outcome?",
              ("Standards not met", "Approaching standards", "Standards met", "Standards exceeded"),
              when=("IC3", True), difficulty=0.3),
        multi("IC5", "Which cyber security measures are in place?", (
            ("mfa", "Multi-factor authentication for NHSmail and remote access", 2),
            ("phishing", "Phishing awareness training for all staff", 2),
            ("backup", "Backups restored in a test in the last year", 2),
            ("irp", "A cyber incident response plan", 2),
            ("patching", "Automatic security updates on all devices", 1),
            ("none", "None of these", 0)), required=True, difficulty=0.45),
        number("IC6", "Download speed of the main site's connection (Mbit/s)?", "decimal", 20.0, 1000.0, 80.0),
    )),
    Section("workforce", "Workforce digital skills", (
        scale("WF1", "How confident are staff with the clinical system's templates, searches and workflow tools?",
              CONFIDENCE),
        number("WF2", "What percentage of staff completed digital skills training in the last 12 months?",
               "decimal", 0.0, 100.0, 60.0),
        yes_no("WF3", "Does the practice have time with the PCN's Digital and Transformation Lead?", 2,
               difficulty=0.5),
        number("WF4", "How many staff act as digital champions?", "integer", 0, 6, 1),
        multi("WF5", "Which training do staff use?", (
            ("elfh", "NHS e-Learning for Healthcare", 1), ("supplier", "Clinical system supplier training", 1),
            ("pcn", "PCN or training hub sessions", 1), ("inhouse", "In-house peer training", 1),
            ("academy", "NHS Digital Academy programmes", 1)), since=1),
    )),
    Section("patient-access", "Patient access and digital inclusion", (
        scale("PA1", "What telephony does the practice use?", (
            "Analogue or on-premise system", "Cloud-based telephony without call-back",
            "Cloud-based telephony with call-back", "Advanced cloud-based telephony with call-back, "
            "queue messages and clinical system integration"), difficulty=0.35),
        yes_no("PA2", "Is an online consultation tool open to patients throughout core hours?", 4, difficulty=0.35),
        pick("PA3", "Which online consultation tool does the practice use?", (
            ("accurx", "Accurx Patient Triage"), ("econsult", "eConsult"), ("klinik", "Klinik"),
            ("patchs", "PATCHS"), ("engage", "Engage Consult"), ("other", "Other")),
            (36, 24, 9, 12, 10, 9), fact="oc-tool", when=("PA2", True)),
        number("PA4", "How many online consultation requests did the practice receive last month?", "integer",
               20, 3000, 400, when=("PA2", True)),
        number("PA5", "What percentage of registered patients have an NHS App account linked to the practice?",
               "decimal", 15.0, 85.0, 55.0),
        multi("PA6", "What support does the practice offer patients who find digital services hard to use?", (
            ("phone", "The same services by telephone", 1), ("reception", "Help at reception", 1),
            ("sessions", "Digital help sessions with a champion", 1), ("translated", "Translated guides", 1),
            ("accessible", "Large-print and easy-read guides", 1), ("proxy", "Proxy access for carers", 1)),
            required=True),
    )),
    Section("care-navigation", "Care navigation", (
        yes_no("CN1", "Have all reception staff been trained in care navigation?", 3, difficulty=0.45),
        scale("CN2", "How are patients' requests triaged?", (
            "First come, first served", "Reception staff with a protocol",
            "Clinician-led triage of some requests", "Clinician-led total triage",
            "Total triage through one digital front door")),
        multi("CN3", "Where do staff refer or signpost patients directly?", (
            ("pharmacy", "Pharmacy First", 1), ("physio", "Self-referral physiotherapy", 1),
            ("talking", "NHS Talking Therapies", 1), ("social", "Social prescribing link workers", 1),
            ("optom", "Community optometry", 1))),
        number("CN4", "How many working days to the next routine appointment, on average?", "integer", 0, 25, 6),
    )),
    Section("data-interoperability", "Data and interoperability", (
        pick("DI1", "Which clinical system does the practice use?", (
            ("emis", "EMIS Web"), ("systmone", "SystmOne"), ("vision", "Vision"), ("other", "Other")),
            (54, 42, 3, 1), fact="clinical-system"),
        yes_no("DI2", "Do clinicians use the local shared care record?", 3, difficulty=0.35),
        scale("DI3", "How often do clinicians look at the shared care record?",
              ("Rarely", "Monthly", "Weekly", "Daily"), required=False, when=("DI2", True)),
        yes_no("DI4", "Can NHS 111 book appointments at the practice through GP Connect?", 2, difficulty=0.45),
        multi("DI5", "Which data quality work happens at least quarterly?", (
            ("coding", "Clinical coding audits", 1), ("duplicates", "Duplicate record checks", 1),
            ("summarising", "Summarising backlog review", 1), ("registers", "Disease register validation", 1))),
    )),
    Section("innovation", "Innovation", (
        yes_no("IN1", "Has the practice piloted a new digital tool in the last 12 months?", 2, difficulty=0.6),
        free_text("IN2", "Which tool, and what did the practice learn?", (
            "Automated repeat prescription requests: fewer calls, but pharmacy needed briefing.",
            "Text message questionnaires for annual reviews: good response from younger patients.",
            "Online booking of vaccinations: worked well and freed up phone lines.",
            "Remote blood pressure monitoring: needed more admin time than expected.",
            "Ambient voice technology: clinicians saved time on notes; governance took a while.",
            "Self check-in screens: popular, but queue moved to the screen at peak times."),
            when=("IN1", True)),
        when_date("IN3", "When did the most recent pilot start?", -365, -14, when=("IN1", True)),
        scale("IN4", "How interested is the practice in AI tools such as ambient voice technology?",
              ("Not interested", "Some interest", "Actively exploring", "Already using"),
              required=False, difficulty=0.65, since=1),
    )),
)

INDEPTH = (
    ("telephony", "Telephony In-depth Assessment", 2, (
        Section("infrastructure", "Telephony system", (
            scale("TEL1", "What telephony system is in place?", (
                "Analogue lines", "On-premise digital", "Cloud-based telephony",
                "Advanced cloud-based telephony"), difficulty=0.35),
            multi("TEL2", "Which features are switched on?", (
                ("queue", "Queue position messages", 1), ("callback", "Call-back", 2),
                ("recording", "Call recording", 1), ("ivr", "Menu routing (IVR)", 1),
                ("integration", "Clinical system integration", 2), ("dashboard", "Live call dashboards", 1)),
                required=True),
            when_date("TEL3", "When does the current telephony contract end?", 30, 1100),
        )),
        Section("patient-access", "Call handling", (
            number("TEL4", "How many calls arrive between 08:00 and 10:00 on a Monday, on average?", "integer",
                   40, 900, 220, required=True),
            number("TEL5", "What was the abandoned call rate last month (%)?", "decimal", 1.0, 45.0, 12.0),
            yes_no("TEL6", "Are call data reviewed at least monthly?", 2, difficulty=0.5),
            free_text("TEL7", "What did the last review change?", (
                "Moved two receptionists to the 8am peak.",
                "Added a message pointing to online consultation for admin requests.",
                "Started call-back for patients waiting more than ten minutes.",
                "Changed the menu so prescription queries go to the dispensary."), when=("TEL6", True)),
        )),
    )),
    ("online-consultation", "Online Consultation In-depth Assessment", 3, (
        Section("patient-access", "Access", (
            pick("OC1", "Which online consultation tool is in use?", (
                ("accurx", "Accurx Patient Triage"), ("econsult", "eConsult"), ("klinik", "Klinik"),
                ("patchs", "PATCHS"), ("engage", "Engage Consult"), ("other", "Other")),
                (36, 24, 9, 12, 10, 9), fact="oc-tool"),
            scale("OC2", "When is the tool open to patients?", (
                "Limited hours", "Core hours on some days", "All core hours", "All core hours, with admin "
                "requests out of hours")),
            number("OC3", "How many requests arrive in a typical week?", "integer", 10, 900, 120),
        )),
        Section("care-navigation", "Triage", (
            yes_no("OC4", "Are online requests triaged by a clinician?", 3, difficulty=0.4),
            scale("OC5", "How quickly are triaged requests answered?", (
                "More than two working days", "Within two working days", "Next working day", "Same day"),
                when=("OC4", True)),
            multi("OC6", "Which requests may patients make online?", (
                ("medical", "Medical", 1), ("admin", "Administrative", 1), ("repeat", "Repeat prescriptions", 1),
                ("fitnote", "Fit notes", 1), ("results", "Test results", 1))),
        )),
    )),
    ("cyber-security", "Cyber Security In-depth Assessment", 5, (
        Section("cyber-security", "Cyber security", (
            yes_no("CS1", "Is multi-factor authentication on for every NHSmail and remote access account?", 4,
                   difficulty=0.4),
            scale("CS2", "How often are backups restored in a test?", (
                "Never", "Less than yearly", "Yearly", "Quarterly")),
            when_date("CS3", "When did the practice last run a cyber incident exercise?", -720, -10),
            number("CS4", "How many staff completed Data Security Awareness training this year?", "integer",
                   3, 80, 22, required=True),
        )),
        Section("infrastructure", "Devices and documents", (
            yes_no("CS5", "Do all devices run a supported operating system?", 3, difficulty=0.3),
            free_text("CS6", "Which devices are unsupported, and why?", (
                "Two reception PCs waiting for the ICB refresh.",
                "An old ECG machine's laptop that the supplier has not updated.",
                "The dispensary label printer PC.",
                "A spare laptop used for remote meetings."), when=("CS5", False)),
            multi("CS7", "Which of these are written down and current?", (
                ("bcp", "Business continuity plan", 1), ("irp", "Incident response plan", 1),
                ("assets", "IT asset register", 1), ("access", "Access control policy", 1)), required=True),
        )),
    )),
    ("digital-inclusion", "Digital Inclusion In-depth Assessment", 7, (
        Section("patient-access", "Patients", (
            yes_no("DX1", "Has the practice identified patients at risk of digital exclusion?", 3, difficulty=0.55),
            number("DX2", "How many patients are flagged as needing non-digital contact?", "integer", 10, 1500, 150,
                   when=("DX1", True)),
            multi("DX3", "What support is offered?", (
                ("sessions", "Digital help sessions", 1), ("devices", "Device loans through a local charity", 1),
                ("proxy", "Proxy access for carers", 1), ("languages", "Guides in local languages", 1),
                ("phone", "A protected telephone line", 1)), required=True),
        )),
        Section("workforce", "Staff", (
            yes_no("DX4", "Does the practice have a digital champion for patients?", 2, difficulty=0.5),
            number("DX5", "Hours a week of digital help sessions?", "decimal", 0.5, 15.0, 3.0, when=("DX4", True)),
            scale("DX6", "How are patients' communication preferences recorded?", (
                "Not recorded", "Ad hoc notes", "Coded on the record", "Coded and used for every contact")),
        )),
    )),
)

# Planned and not yet published: it shows a draft form, which no practice can submit.
DRAFT = ("care-navigation", "Care Navigation In-depth Assessment", (
    Section("care-navigation", "Care navigation", (
        yes_no("NV1", "Is there a written care navigation protocol?", 3),
        multi("NV2", "Which services are in the protocol?", (
            ("pharmacy", "Pharmacy First", 1), ("physio", "Self-referral physiotherapy", 1),
            ("optom", "Community optometry", 1), ("social", "Social prescribing", 1))),
        number("NV3", "How many requests a week are navigated away from GP appointments?", "integer", 0, 400, 60),
    )),
))


def global_forms(timeline: Timeline) -> list[Form]:
    """One version of the Global Assessment per financial year of the window, the latest active."""
    years = timeline.financial_years
    forms = []
    for index, year in enumerate(years):
        sections = tuple(Section(s.id, s.title, tuple(q for q in s.questions if q.since <= index))
                         for s in GLOBAL_SECTIONS)
        status = "active" if index == len(years) - 1 else "retired"
        forms.append(Form("global", f"{year}.1", "global", None, "Global Digital and Transformation Assessment",
                          status, date(year, 4, 1), sections))
    return forms


def indepth_forms(timeline: Timeline) -> list[Form]:
    forms = []
    for theme, title, months, sections in INDEPTH:
        published = add_months(timeline.start, months)
        if published > timeline.last_day:
            published = timeline.start + timedelta(days=14)
        forms.append(Form(theme, f"{financial_year(published)}.1", "indepth", theme, title, "active",
                          published, sections))
    theme, title, sections = DRAFT
    forms.append(Form(theme, f"{financial_year(timeline.today)}.1", "indepth", theme, title, "draft", None,
                      sections))
    return forms


def all_forms(timeline: Timeline) -> list[Form]:
    return global_forms(timeline) + indepth_forms(timeline)
