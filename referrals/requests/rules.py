"""Disclosure request rules in one place: types, data categories, what each type reaches,
which of our legal entities receives it, its deadline, and the staff workflow."""

from __future__ import annotations

from dataclasses import dataclass

from referrals.core.states import StateMachine, Transition

from referrals.vocabulary.categories import DATA_CATEGORIES


@dataclass(frozen=True)
class RequestType:
    key: str
    label: str
    # What this instrument can reach without a warning (a subpoena: subscriber data only).
    reaches: tuple[str, ...]
    # Our entity that must be the addressee.
    legal_entity: str
    # A key in referrals.core.deadlines.RULES, or None.
    deadline: str | None
    preservation: bool = False
    emergency: bool = False
    # An order under Regulation (EU) 2023/1543: only from a participating member state, only
    # from its date of application (vocabulary.jurisdictions.eu_order_refusal).
    eu_order: bool = False
    # Received by the entity that receives the agency's requests (its register entry),
    # except that a US governmental entity's always goes to the US entity: preservation has
    # no instrument of its own outside the US and the EU.
    entity_from_agency: bool = False


ALL = tuple(DATA_CATEGORIES)
NON_CONTENT = ("subscriber", "login_logout", "interaction", "transaction")

REQUEST_TYPES = {t.key: t for t in (
    RequestType("subpoena", "Subpoena (18 U.S.C. 2703(c)(2))", ("subscriber",), "us",
                "standard_request_response"),
    RequestType("court_order_2703d", "Court order, 18 U.S.C. 2703(d)", NON_CONTENT, "us",
                "standard_request_response"),
    RequestType("search_warrant", "Search warrant", ALL, "us", "standard_request_response"),
    RequestType("emergency", "Emergency disclosure request (18 U.S.C. 2702(b)(8))", ALL, "us",
                "emergency_disclosure_response", emergency=True),
    # The hold it places says which law it is under (18 U.S.C. 2703(f) for a US governmental
    # entity, otherwise voluntary or Budapest art. 29: holds.rules.hold_kind_for_request);
    # the request itself is due within the time-to-act target.
    RequestType("preservation", "Preservation request", ALL, "us", "preservation_time_to_act",
                preservation=True, entity_from_agency=True),
    # Due when the hold it renews is due (intake sets it from the renewed hold).
    RequestType("preservation_renewal", "Preservation renewal", ALL, "us",
                "us_preservation_renewal", preservation=True, entity_from_agency=True),
    RequestType("eu_epoc", "European Production Order (EPOC)", ALL, "eu", "eu_production_order",
                eu_order=True),
    RequestType("eu_epoc_pr", "European Preservation Order (EPOC-PR)", ALL, "eu",
                "eu_preservation_order", preservation=True, eu_order=True),
    RequestType("mlat", "MLAT request", ALL, "us", "standard_request_response"),
    RequestType("uk_opo", "UK overseas production order (Crime (Overseas Production Orders) "
                "Act 2019)", ALL, "uk", "uk_overseas_production_order"),
    RequestType("uk_us_daa", "Order under the UK–US Data Access Agreement", ALL, "uk",
                "uk_us_data_access_order"),
    RequestType("other", "Voluntary / other", NON_CONTENT, "us", "standard_request_response"),
)}


def receiving_entity(kind: RequestType, us_governmental: bool, agency_entity: str | None) -> str:
    """Our entity that receives a request of ``kind``: its time zone counts every date of the
    request and of the hold it places (one request, one zone)."""
    if kind.entity_from_agency and not us_governmental and agency_entity:
        return agency_entity
    return kind.legal_entity


# Request types that renew an earlier preservation, named in ``related_reference``. Here, not
# with the holds, because the officer scope (``requests.scope``) asks it: an officer sees the
# hold a renewal of theirs renewed.
RENEWAL_REQUEST_TYPES = ("preservation_renewal",)

STATUSES = {
    "received": "Received",
    "verifying": "Verifying",
    "legal_review": "Legal review",
    "needs_info": "Needs information",
    "narrowed": "Narrowed",
    "rejected": "Rejected",
    "redirected_mlat": "Redirected to MLAT",
    "approved": "Approved",
    "collecting": "Collecting",
    "ready_for_review": "Ready for review",
    "disclosed": "Disclosed",
    "closed": "Closed",
    "withdrawn": "Withdrawn",
}
FINAL_STATUSES = ("rejected", "redirected_mlat", "closed", "withdrawn")
# A request in these has been answered: its deadline no longer counts down, and it sorts
# below the requests still waiting in the open queue (a disclosed one waits only to close).
CLOCK_STOPPED_STATUSES = ("disclosed", *FINAL_STATUSES)

# Every status change a request may make. Staff "move" a request along the plain steps;
# "approved" is reached only through approve_request and "disclosed" only through
# record_disclosure (two people each, see core.two_person; a call-back first for emergencies),
# "withdrawn" only by the agency. A move the agency must understand needs a reason, which the
# agency reads; the agency is told of every change marked so.
_AGENCY_READS = dict(needs_reason=True, tells_agency=True)
REQUEST_STATES = StateMachine(
    "request", STATUSES, final=FINAL_STATUSES,
    reason_prompt="Say why: the agency will read it.",
    transitions=(
        Transition("received", "verifying"),
        Transition("received", "rejected", **_AGENCY_READS),
        Transition("verifying", "legal_review"),
        Transition("verifying", "needs_info", **_AGENCY_READS),
        Transition("verifying", "rejected", **_AGENCY_READS),
        Transition("legal_review", "needs_info", **_AGENCY_READS),
        Transition("legal_review", "narrowed", **_AGENCY_READS),
        Transition("legal_review", "rejected", **_AGENCY_READS),
        Transition("legal_review", "redirected_mlat", **_AGENCY_READS),
        Transition("needs_info", "verifying"),
        Transition("needs_info", "legal_review"),
        Transition("needs_info", "rejected", **_AGENCY_READS),
        Transition("needs_info", "closed", tells_agency=True),
        Transition("narrowed", "legal_review"),
        Transition("approved", "collecting"),
        Transition("collecting", "ready_for_review"),
        Transition("ready_for_review", "collecting"),
        Transition("disclosed", "closed", tells_agency=True),
        # Two people: the decisions prepared in legal review are approved by another supervisor.
        Transition("legal_review", "approved", by="approve", tells_agency=True),
        Transition("narrowed", "approved", by="approve", tells_agency=True),
        # Two people: the production is released by a supervisor who neither prepared nor
        # collected it.
        Transition("ready_for_review", "disclosed", by="disclose", tells_agency=True),
        # The agency answers a "needs information" message (requests.follow_up): the request
        # goes back to staff, to be verified again with what was sent.
        Transition("needs_info", "verifying", by="answer"),
        # The agency withdraws its own request while nothing has left the building.
        *(Transition(status, "withdrawn", by="withdraw") for status in (
            "received", "verifying", "legal_review", "needs_info", "narrowed", "approved",
            "collecting")),
    ))
# Statuses from which a prepared decision may be approved (and decisions are made).
APPROVABLE_FROM = REQUEST_STATES.sources("approve")
# Where an officer may still withdraw the request.
WITHDRAWABLE = REQUEST_STATES.sources("withdraw")
# Where an officer's answer hands the request back to staff.
ANSWERABLE = REQUEST_STATES.sources("answer")
MAX_COLLEAGUES = 5


@dataclass(frozen=True)
class Attestation:
    """A statement an officer makes by ticking it: recorded with the request word for word,
    with its version, so a later change of wording never rewrites what was attested."""

    version: str
    text: str


# The good-faith statement an emergency disclosure rests on: the provider may disclose "if the
# provider, in good faith, believes that an emergency involving danger of death or serious
# physical injury to any person requires disclosure without delay" (18 U.S.C. 2702(b)(8) for
# contents, (c)(4) for records). An emergency request is refused without it.
GOOD_FAITH = Attestation(
    "2702b8-2026-1",
    "I state in good faith that an emergency involving danger of death or serious physical "
    "injury to a person requires disclosure of the information requested without delay "
    "(18 U.S.C. 2702(b)(8) and (c)(4)), and that what I wrote above is true to the best of my "
    "knowledge.")
GOOD_FAITH_MISSING = ("Tick the good-faith statement: an emergency request is taken only with "
                      "it (18 U.S.C. 2702(b)(8)).")
