"""Preservation hold rules in one place: each kind of hold, the deadline rule that sets its
expiry (see ``referrals.core.deadlines.RULES`` for the periods and their sources), how often
it may be renewed or extended, and the statuses a hold moves through.

Legal may read and change this file.
"""

from __future__ import annotations

from dataclasses import dataclass

from referrals.core.states import StateMachine, Transition
from referrals.vocabulary.jurisdictions import (US_GOVERNMENTAL_KINDS, is_budapest_party,
                                                is_us_governmental)


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
    # What allows the renewal, as the hold's history, refusals and letters cite it.
    renewal_basis: str = ""
    # Kept voluntarily (no law binds us): the letter says so.
    voluntary: bool = False


HOLD_KINDS = {k.key: k for k in (
    HoldKind("us_2703f", "US preservation, 18 U.S.C. 2703(f)", "us_preservation",
             renewal_rule="us_preservation_renewal", max_renewals=1,
             renewal_basis="18 U.S.C. 2703(f)(2)",
             source="18 U.S.C. 2703(f)(2): 90 days, extended once by 90 days on a renewed "
                    "request. Binds only at the request of a US governmental entity "
                    "(18 U.S.C. 2711(4))."),
    HoldKind("budapest_art29", "Voluntary preservation, Budapest Convention art. 29 request",
             "budapest_preservation", renewal_rule="voluntary_preservation_renewal",
             max_renewals=1, renewal_basis="our preservation policy", voluntary=True,
             source="Convention on Cybercrime (ETS No. 185), art. 29(7): preserved for not "
                    "less than 60 days while the requesting party seeks the data through "
                    "mutual assistance. 18 U.S.C. 2703(f) does not bind at a foreign "
                    "authority's request; we preserve voluntarily under our policy."),
    HoldKind("voluntary", "Voluntary preservation under our policy", "voluntary_preservation",
             renewal_rule="voluntary_preservation_renewal", max_renewals=1,
             renewal_basis="our preservation policy", voluntary=True,
             source="Internal policy: 90 days, renewable once. No law binds us to preserve at "
                    "this authority's request (18 U.S.C. 2703(f) binds only at the request of "
                    "a US governmental entity, 18 U.S.C. 2711(4))."),
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

# Which request types place which kind of hold when they arrive (a preservation request's
# kind depends on who sent it: hold_kind_for_request).
HOLD_KIND_FOR_REQUEST_TYPE = {
    "preservation": "us_2703f",
    "eu_epoc_pr": "eu_epoc_pr",
}


def hold_kind_for_request(request_type: str, country: str | None,
                          agency_kind: str | None) -> str | None:
    """The kind of hold a request places: 2703(f) only for a US governmental entity
    (18 U.S.C. 2711(4)); a foreign authority's preservation request is kept voluntarily,
    for at least 60 days if its country is a Budapest Convention party (art. 29(7))."""
    kind = HOLD_KIND_FOR_REQUEST_TYPE.get(request_type)
    if kind != "us_2703f" or is_us_governmental(country, agency_kind):
        return kind
    # Art. 29 is a request from one party to another: a foreign party's authority.
    foreign_authority = (country or "").upper() != "US" and agency_kind in US_GOVERNMENTAL_KINDS
    return "budapest_art29" if foreign_authority and is_budapest_party(country) else "voluntary"

# Kinds a confirmed production order keeps until the data is produced: EPOC-PR by the
# Regulation (Annex V); a 2703(f) hold once the legal process it was waiting for arrives.
PRODUCTION_CONFIRMABLE_KINDS = ("eu_epoc_pr", "us_2703f", "budapest_art29", "voluntary")

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
                   why="One renewal of 90 days on a renewed request: 18 U.S.C. 2703(f)(2), "
                       "or our policy for a voluntary preservation."),
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
