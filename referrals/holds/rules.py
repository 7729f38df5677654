"""Preservation hold rules in one place: each kind of hold, the deadline rule that sets its
expiry (see ``referrals.core.deadlines.RULES`` for the periods and their sources), how often
it may be renewed or extended, and the statuses a hold moves through.

Legal may read and change this file.
"""

from __future__ import annotations

from dataclasses import dataclass

from referrals.core.states import StateMachine, Transition


@dataclass(frozen=True)
class HoldKind:
    key: str
    label: str
    # The deadline rule for the first period; None: lasts until released.
    expiry_rule: str | None
    # Renewals on a renewed request (2703(f)): the rule for each, and how many are allowed.
    renewal_rule: str | None = None
    max_renewals: int = 0
    # Extensions on the issuing authority's request (EPOC-PR, Annex VI).
    extension_rule: str | None = None
    max_extensions: int = 0
    # Open-ended once the production order that follows it is confirmed (EPOC-PR, Annex V).
    open_ended_on_production: bool = False
    # Periodic review while the hold lasts (internal holds).
    review_rule: str | None = None
    # Why this kind exists, as a lawyer would cite it.
    source: str = ""


HOLD_KINDS = {k.key: k for k in (
    HoldKind("us_2703f", "US preservation, 18 U.S.C. 2703(f)", "us_preservation",
             renewal_rule="us_preservation_renewal", max_renewals=1,
             source="18 U.S.C. 2703(f)(2): 90 days, extended once by 90 days on a renewed request."),
    HoldKind("eu_epoc_pr", "European Preservation Order (EPOC-PR)", "eu_preservation_order",
             extension_rule="eu_preservation_extension", max_extensions=1,
             open_ended_on_production=True,
             source="Regulation (EU) 2023/1543, art. 11(1): 60 days, +30 days on request "
                    "(Annex VI); until production once a production order is confirmed (Annex V)."),
    HoldKind("ncmec_report", "NCMEC report preservation, 18 U.S.C. 2258A(h)",
             "ncmec_report_preservation",
             source="18 U.S.C. 2258A(h) as amended by the REPORT Act (2024): 1 year from the "
                    "report's completion."),
    HoldKind("internal", "Internal legal hold", None, review_rule="internal_hold_review",
             source="Internal policy: held until released, reviewed every 180 days."),
)}

# Which request types place which kind of hold when they arrive.
HOLD_KIND_FOR_REQUEST_TYPE = {
    "preservation": "us_2703f",
    "eu_epoc_pr": "eu_epoc_pr",
}

# Kinds a confirmed production order keeps until the data is produced: EPOC-PR by the
# Regulation (Annex V); a 2703(f) hold once the legal process it was waiting for arrives.
PRODUCTION_CONFIRMABLE_KINDS = ("eu_epoc_pr", "us_2703f")

STATUSES = {
    "active": "Active",
    "extended": "Extended",
    "released": "Released",
    "expired": "Expired",
    "converted": "Converted to a production",
}
# A hold in one of these statuses freezes its data until ``expires_at`` (if any) passes.
LIVE_STATUSES = ("active", "extended")
ENDED_STATUSES = ("released", "expired", "converted")

# Every status change a hold may make, each through its own service (see holds.services and
# holds.refusals for the checks of kind, dates and counts that come first). Ending a hold
# early is told to the agency of its request, and a release needs the reason on record.
HOLD_STATES = StateMachine(
    "hold", STATUSES, final=ENDED_STATUSES, reason_prompt="Say why the hold is released.",
    transitions=(
        Transition("active", "extended", by="renew",
                   why="18 U.S.C. 2703(f)(2): one renewal of 90 days on a renewed request."),
        Transition("active", "extended", by="extend",
                   why="Regulation (EU) 2023/1543, art. 11(1): one extension of 30 days "
                       "(Annex VI)."),
        *(Transition(live, "released", by="release", needs_reason=True, tells_agency=True)
          for live in LIVE_STATUSES),
        *(Transition(live, "converted", by="convert", tells_agency=True,
                     why="The preserved data is taken over by a production.")
          for live in LIVE_STATUSES),
        *(Transition(live, "expired", by="expire", tells_agency=True) for live in LIVE_STATUSES),
    ))
