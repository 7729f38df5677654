"""The rules of a referral a supervisor or lawyer may want to read and change: its statuses
and moves, the legal bases for a voluntary disclosure, and the ways a referral is delivered.

Legal may read and change this file.
"""

from __future__ import annotations

from referrals.core.states import StateMachine, Transition

STATUSES = {
    "draft": "Draft",
    "pending_approval": "Pending approval",
    "approved": "Approved",
    "sent": "Sent",
    "acknowledged": "Acknowledged",
    "withdrawn": "Withdrawn",
}
# A referral in one of these statuses has left the building.
SENT_STATUSES = ("sent", "acknowledged")
UNSENT_STATUSES = ("draft", "pending_approval", "approved")

# Every move a referral makes, each through its own service (see outbound.services). The
# approver is never the drafter (core.two_person); nothing is sent unapproved.
REFERRAL_STATES = StateMachine(
    "referral", STATUSES, final=("acknowledged", "withdrawn"),
    reason_prompt="Say why.",
    transitions=(
        Transition("draft", "pending_approval", by="submit"),
        Transition("pending_approval", "draft", by="return", needs_reason=True,
                   why="The approver sends it back to the drafter with what to change."),
        Transition("pending_approval", "approved", by="approve",
                   why="A second person approves what leaves, never the drafter."),
        Transition("approved", "sent", by="send"),
        Transition("sent", "acknowledged", by="acknowledge"),
        *(Transition(status, "withdrawn", by="withdraw", needs_reason=True)
          for status in UNSENT_STATUSES),
    ))

# The legal basis of a voluntary disclosure, as a lawyer would cite it.
LEGAL_BASES = {
    "us_2258a": "18 U.S.C. 2258A: report of apparent child sexual abuse material to NCMEC",
    "us_2702b6": "18 U.S.C. 2702(b)(6): contents to NCMEC, in connection with a 2258A report",
    "us_2702b8": "18 U.S.C. 2702(b)(8): contents to a government entity, emergency involving "
                 "danger of death or serious physical injury",
    "us_2702c4": "18 U.S.C. 2702(c)(4): records to a government entity, emergency involving "
                 "danger of death or serious physical injury",
    "uk_dpa_sch2": "UK Data Protection Act 2018, Sch. 2 para. 2: prevention or detection of crime",
    "eu_gdpr_6_1_d": "GDPR art. 6(1)(d): vital interests of the data subject or another person",
}

# How a referral reaches the agency.
DELIVERY_METHODS = {
    "portal": "Through the agency portal (an encrypted package for its officers)",
    "hand": "By hand (package and report delivered by a person)",
    "ncmec": "Through NCMEC's CyberTipline report of the case",
}
# The purpose of the evidence package a portal referral is delivered in (packages feature).
PORTAL_PACKAGE = "referral_portal"

# How a hand delivery was made.
HAND_CHANNELS = {
    "in_person": "In person",
    "courier": "Courier",
    "secure_email": "Secure e-mail",
    "agency_upload": "The agency's own upload service",
}
