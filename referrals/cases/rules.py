"""The case rules a supervisor or lawyer may want to read and change: one table each."""

from __future__ import annotations

from referrals.core.deadlines import span
from referrals.core.states import StateMachine, Transition

CATEGORIES = {
    "child_sexual_exploitation": "Child sexual exploitation",
    "grooming": "Grooming / enticement",
    "trafficking": "Trafficking",
    "violent_extremism": "Violent extremism",
    "imminent_harm": "Imminent harm / threat to life",
    "other": "Other",
}

# Priority → (meaning, first-response target). The queue sorts P0 first. The targets and
# their source are rules ``case_first_response_P0``… in ``referrals.core.deadlines``.
PRIORITIES = {
    name: (meaning, span(f"case_first_response_{name}"))
    for name, meaning in (("P0", "Life at risk"), ("P1", "Urgent"), ("P2", "Standard"),
                          ("P3", "Low"))
}
PRIORITY_RANK = {name: rank for rank, name in enumerate(PRIORITIES)}

SOURCES = {
    "hash_match": "Hash match",
    "classifier": "Classifier",
    "user_report": "User report",
    "ngo_tip": "NGO tip",
    "agency_request": "Agency request",
    "staff": "Opened by staff",
}

STATUSES = {
    "new": "New",
    "triage": "Triage",
    "investigating": "Investigating",
    "referred": "Referred",
    "monitoring": "Monitoring",
    "closed": "Closed",
}
OPEN_STATUSES = tuple(s for s in STATUSES if s != "closed")

# Every status change a case may make. Anything else is refused. Cases are internal: no
# agency is told, and a note with the change is welcome but not required.
CASE_STATES = StateMachine("case", STATUSES, final=("closed",), transitions=(
    Transition("new", "triage"),
    Transition("new", "investigating"),
    Transition("new", "closed"),
    Transition("triage", "investigating"),
    Transition("triage", "closed"),
    Transition("investigating", "referred"),
    Transition("investigating", "monitoring"),
    Transition("investigating", "closed"),
    Transition("referred", "monitoring"),
    Transition("referred", "investigating"),
    Transition("referred", "closed"),
    Transition("monitoring", "investigating"),
    Transition("monitoring", "referred"),
    Transition("monitoring", "closed"),
    Transition("closed", "investigating", why="Reopening: new information on a closed case."),
))

# A case is "due soon" when its next deadline is this close (rule ``case_due_soon``).
DUE_SOON = span("case_due_soon")

# A default priority per category, for escalations that do not say.
DEFAULT_PRIORITY = {
    "imminent_harm": "P0",
    "child_sexual_exploitation": "P1",
    "grooming": "P1",
    "trafficking": "P1",
    "violent_extremism": "P1",
    "other": "P2",
}
