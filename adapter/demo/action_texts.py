"""Improvement actions a practice takes on after an assessment, by the question they answer.

A template: (title, description, impact category, impact summary, unit, low, high); the impact
value is drawn between low and high.
"""
from __future__ import annotations

HOURS, POUNDS, PATIENTS, APPOINTMENTS = "hours/month", "£/year", "patients/month", "appointments/month"
CALLS, INCIDENTS, STAFF = "calls/month", "incidents/year", "staff"

TEMPLATES: dict[str, tuple[tuple, ...]] = {
    "LD1": (("Appoint a digital lead", "Name a partner or senior manager as digital lead, with two hours a "
             "week protected for the role.", "staff-experience", "One person owns digital change", STAFF, 4, 25),),
    "LD2": (("Write a one-page digital plan", "Agree the year's three digital priorities with the partners "
             "and review progress each quarter.", "time-saved", "Fewer ad hoc IT decisions", HOURS, 2, 8),
            ("Turn the digital plan into a delivery timeline", "Give each priority an owner and a date and "
             "share the plan with the PCN.", "other", "Plan visible to the PCN", "reviews/year", 2, 4)),
    "LD3": (("Make digital a standing item at partners' meetings", "Review digital progress and risks every "
             "month.", "other", "Regular review of digital priorities", "reviews/year", 6, 12),),
    "IC1": (("Replace unreliable workstations", "Bid to the ICB's device refresh for the oldest clinical "
             "workstations.", "time-saved", "Less time lost to slow or failing PCs", HOURS, 10, 45),
            ("Log IT faults with the ICB service desk", "Record every IT fault so that recurring problems "
             "are escalated.", "staff-experience", "Faults fixed first time more often", STAFF, 3, 20)),
    "IC3": (("Complete the DSPT submission", "Work through the Data Security and Protection Toolkit with "
             "the ICB's support team before 30 June.", "patient-safety", "Assured handling of patient data",
             INCIDENTS, 1, 4),),
    "IC4": (("Close the DSPT improvement plan", "Finish the outstanding DSPT evidence items, starting with "
             "staff training.", "patient-safety", "DSPT standards met", INCIDENTS, 1, 3),),
    "IC5": (("Switch on multi-factor authentication", "Turn on MFA for NHSmail and remote access for every "
             "member of staff.", "patient-safety", "Lower risk of account takeover", INCIDENTS, 1, 3),
            ("Run phishing awareness training", "Book the national phishing training for all staff and repeat "
             "yearly.", "patient-safety", "Staff spot suspicious e-mails", INCIDENTS, 1, 5),
            ("Test restoring a backup", "Ask the ICB IT provider to restore a sample backup and record the "
             "result.", "patient-safety", "Confidence that data can be recovered", INCIDENTS, 1, 2)),
    "WF1": (("Book clinical system training", "Arrange supplier training on templates, searches and "
             "workflow tools for clinicians and admin staff.", "time-saved", "Faster searches and coding",
             HOURS, 8, 30),
            ("Set up peer support for the clinical system", "Pair new staff with a confident user for their "
             "first month.", "staff-experience", "New starters productive sooner", STAFF, 2, 8)),
    "WF3": (("Agree time with the PCN Digital and Transformation Lead", "Book a monthly session to plan "
             "digital work with the PCN lead.", "time-saved", "Shared PCN solutions instead of local ones",
             HOURS, 3, 12),),
    "PA1": (("Move to cloud-based telephony", "Procure advanced cloud-based telephony through the national "
             "framework, with call-back and queue messages.", "patient-access",
             "Fewer patients unable to get through at 8am", CALLS, 200, 1500),
            ("Switch on call-back", "Offer call-back to patients in the queue at peak times.", "patient-access",
             "Patients no longer hold for long periods", CALLS, 150, 900),
            ("Cancel the old analogue lines", "End the legacy line rental once the cloud system is live.",
             "cost", "Lower line rental", POUNDS, 800, 6000)),
    "PA2": (("Open online consultation for all core hours", "Keep the online consultation tool open 08:00 to "
             "18:30 and triage requests the same day.", "patient-access", "More patients able to make "
             "contact online", PATIENTS, 50, 400),),
    "PA5": (("Run an NHS App sign-up drive", "Promote the NHS App at reception and by text message, with "
             "help for patients who need it.", "patient-access", "More repeat prescriptions ordered online",
             PATIENTS, 40, 300),
            ("Move repeat prescription requests online", "Ask patients to order repeats through the NHS App "
             "and stop taking them by phone.", "time-saved", "Fewer prescription calls", HOURS, 6, 30)),
    "PA6": (("Start digital help sessions", "Run a weekly drop-in where a digital champion helps patients "
             "use the NHS App.", "patient-access", "Patients helped to use online services", PATIENTS, 8, 60),
            ("Offer proxy access to carers", "Set up proxy access for carers of patients who cannot use "
             "online services.", "patient-access", "Carers can manage appointments and repeats", PATIENTS,
             5, 40)),
    "CN1": (("Train reception staff in care navigation", "Book the care navigation course for all reception "
             "staff and refresh it each year.", "time-saved", "Fewer GP appointments used for other services",
             APPOINTMENTS, 30, 200),),
    "CN2": (("Pilot total triage", "Pilot clinician-led total triage on Mondays and review after six weeks.",
             "patient-access", "Same-day needs dealt with sooner", APPOINTMENTS, 40, 250),
            ("Route all requests through one front door", "Send phone, online and walk-in requests to a "
             "single triage list.", "patient-safety", "Urgent requests seen first", PATIENTS, 20, 150)),
    "CN3": (("Refer to Pharmacy First", "Set up electronic referrals to community pharmacy for the seven "
             "Pharmacy First conditions.", "time-saved", "Minor illness appointments freed", APPOINTMENTS,
             20, 120),),
    "DI2": (("Use the shared care record in consultations", "Give every clinician access to the shared care "
             "record and show them how to use it.", "patient-safety", "Fewer calls to hospitals for results",
             HOURS, 5, 25),),
    "DI4": (("Make appointments bookable by NHS 111", "Set aside GP Connect slots that NHS 111 can book.",
             "patient-access", "Patients booked directly by NHS 111", APPOINTMENTS, 10, 60),),
    "DI5": (("Start monthly coding audits", "Audit a sample of coded consultations each month and feed back.",
             "patient-safety", "More accurate disease registers", PATIENTS, 20, 150),
            ("Clear the summarising backlog", "Summarise new patients' records within four weeks of "
             "registration.", "patient-safety", "Complete records for new patients", PATIENTS, 15, 90)),
    "IN1": (("Pilot a digital tool", "Choose one tool from the ICB's innovation list and run a three-month "
             "pilot.", "other", "Evidence for a wider rollout", "pilots/year", 1, 2),),
    "IN4": (("Evaluate ambient voice technology", "Trial ambient voice technology with two clinicians, "
             "following NHS England guidance.", "time-saved", "Less time writing notes", HOURS, 10, 60),),
    "TEL1": (("Upgrade to advanced cloud-based telephony", "Move to a cloud system with queue messages, "
              "call-back and clinical system integration.", "patient-access", "Shorter waits at 8am", CALLS,
              200, 1200),),
    "TEL2": (("Integrate telephony with the clinical system", "Switch on caller recognition so the patient's "
              "record opens with the call.", "time-saved", "Faster call handling", HOURS, 10, 40),
             ("Add queue position messages", "Tell callers where they are in the queue.", "patient-access",
              "Fewer abandoned calls", CALLS, 80, 500)),
    "TEL5": (("Reduce abandoned calls", "Match reception rotas to the call peaks shown in the call data.",
              "patient-access", "More calls answered", CALLS, 100, 600),),
    "TEL6": (("Review call data monthly", "Look at call volumes, waits and abandoned calls at the monthly "
              "operations meeting.", "patient-access", "Staffing matched to demand", CALLS, 50, 400),),
    "OC2": (("Extend online consultation hours", "Keep the tool open for all of core hours.", "patient-access",
             "More requests made online", PATIENTS, 40, 300),),
    "OC4": (("Introduce clinician triage of online requests", "Have a duty clinician triage online requests "
             "every morning.", "patient-safety", "Urgent online requests spotted sooner", PATIENTS, 10, 80),),
    "OC5": (("Answer online requests the same day", "Add an afternoon triage session for online requests.",
             "patient-access", "Quicker replies to patients", PATIENTS, 30, 200),),
    "CS1": (("Enforce MFA on every account", "Close the remaining accounts without multi-factor "
             "authentication.", "patient-safety", "Lower risk of account takeover", INCIDENTS, 1, 3),),
    "CS2": (("Test backup restores quarterly", "Agree a quarterly restore test with the IT provider.",
             "patient-safety", "Proven recovery of data", INCIDENTS, 1, 2),),
    "CS5": (("Replace unsupported devices", "Replace or retire devices that no longer get security updates.",
             "cost", "No extended support fees", POUNDS, 500, 4000),),
    "CS7": (("Write an incident response plan", "Use the national template to write and test a cyber "
             "incident response plan.", "patient-safety", "A tested plan for a cyber attack", INCIDENTS, 1, 2),),
    "DX1": (("Flag patients at risk of digital exclusion", "Code patients who need non-digital contact so "
             "that every team sees it.", "patient-access", "Patients contacted the way they need",
             PATIENTS, 20, 200),),
    "DX4": (("Recruit a patient digital champion", "Ask a receptionist or volunteer to run help sessions.",
             "patient-access", "Patients helped to get online", PATIENTS, 8, 50),),
    "DX6": (("Record communication preferences", "Code each patient's preferred way of contact at "
             "registration and at reviews.", "staff-experience", "Fewer failed contacts", STAFF, 3, 15),),
}

# Actions not tied to an assessment question (the spec makes `submission` and `question` optional).
STANDALONE = (
    ("Review the practice website's accessibility", "Check the website against the NHS accessibility "
     "checklist and fix the gaps.", "patient-access", "Website usable by more patients", PATIENTS, 30, 250),
    ("Tidy NHSmail shared mailboxes", "Remove leavers and check who can see each shared mailbox.",
     "patient-safety", "Fewer people with access they do not need", INCIDENTS, 1, 2),
    ("Move the rota to an online tool", "Replace the spreadsheet rota with the PCN's rota tool.",
     "time-saved", "Less time building rotas", HOURS, 3, 12),
)

NOTES = (
    "Discussed at the practice meeting; agreed to go ahead.",
    "Waiting for a quote from the supplier.",
    "ICB digital team contacted for support.",
    "Training dates booked.",
    "Delayed by winter pressures.",
    "Reviewed with the PCN Digital and Transformation Lead.",
    "Funding confirmed by the ICB.",
    "Early feedback from staff is positive.",
    "Patient participation group asked for their views.",
    "Supplier visit arranged.",
    "Paused while the practice recruits a new manager.",
    "Progress reported to the partners.",
)
