"""One search for staff: a reference (CASE-, REQ-, HOLD-, RFL- or a CyberTipline report id)
or an identifier, across cases, requests and holds.

A reference is a unique-index lookup. Any other text is read as every identifier it could
be (``vocabulary.identifiers.candidate_forms``: a phone, a username, an IP …) and each
(kind, normal form) pair is looked up in the identifier index of each table: cases'
``identifiers``, requests' ``request_targets``, holds' ``held_identifiers``. Nothing scans a
table, so a search costs the same at 100,000 cases as at 100. Each part only for a reader
its feature's policy lets list it.

``linked_to_request`` answers the same question for a request's own targets: the cases and
holds that share an identifier with it (the request page shows them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select

from referrals.cases.models import Case, Identifier
from referrals.cases.policies import case_policy
from referrals.core.identity import Identity
from referrals.extensions import db
from referrals.holds.models import HeldIdentifier, PreservationHold
from referrals.holds.policies import hold_policy
from referrals.ncmec.models import NcmecReport
from referrals.outbound.models import Referral
from referrals.outbound.policies import referral_policy
from referrals.requests.models import DisclosureRequest, RequestTarget
from referrals.requests.services import request_policy
from referrals.vocabulary.identifiers import KINDS, candidate_forms

LIMIT = 50
MAX_QUERY = 320
CASE_REF = re.compile(r"^CASE-\d{4}-\d{6}$")
REQUEST_REF = re.compile(r"^REQ-\d{4}-\d{6}$")
HOLD_REF = re.compile(r"^HOLD-\d{4}-\d{6}$")
REFERRAL_REF = re.compile(r"^RFL-(\d{1,9})$")
TIPLINE_ID = re.compile(r"^\d{5,12}$")  # a CyberTipline report id, as NCMEC gives it


@dataclass
class SearchResult:
    query: str
    reference: bool = False  # the text was read as a reference, not as an identifier
    forms: list[tuple[str, str]] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    requests: list[DisclosureRequest] = field(default_factory=list)
    holds: list[PreservationHold] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.cases) + len(self.requests) + len(self.holds) + len(self.referrals)

    @property
    def searched(self) -> list[str]:
        return [f"{KINDS[kind].lower()} {form}" for kind, form in self.forms]


def _pairs(model, forms: list[tuple[str, str]]):
    return or_(*(and_(model.kind == kind, model.normalized == form) for kind, form in forms))


def _cases_with(forms) -> list[Case]:
    ids = select(Identifier.case_id).where(_pairs(Identifier, forms)).distinct().limit(LIMIT)
    return list(db.session.scalars(select(Case).where(Case.id.in_(ids))
                                   .order_by(Case.is_open.desc(), Case.created_at.desc())))


def _requests_with(forms) -> list[DisclosureRequest]:
    ids = (select(RequestTarget.request_id).where(_pairs(RequestTarget, forms))
           .distinct().limit(LIMIT))
    return list(db.session.scalars(
        select(DisclosureRequest).where(DisclosureRequest.id.in_(ids))
        .order_by(DisclosureRequest.is_open.desc(), DisclosureRequest.received_at.desc())))


def _holds_with(forms) -> list[PreservationHold]:
    ids = (select(HeldIdentifier.hold_id).where(_pairs(HeldIdentifier, forms))
           .distinct().limit(LIMIT))
    return list(db.session.scalars(select(PreservationHold).where(PreservationHold.id.in_(ids))
                                   .order_by(PreservationHold.id.desc())))


def _by_reference(identity: Identity, result: SearchResult, text: str) -> bool:
    """Fill ``result`` for a reference; False when the text is not one."""
    if CASE_REF.match(text):
        if case_policy.can(identity, "list"):
            result.cases = list(db.session.scalars(select(Case).where(Case.reference == text)))
    elif REQUEST_REF.match(text):
        if request_policy.can(identity, "view"):
            result.requests = list(db.session.scalars(
                select(DisclosureRequest).where(DisclosureRequest.reference == text)))
    elif HOLD_REF.match(text):
        if hold_policy.can(identity, "list"):
            result.holds = list(db.session.scalars(
                select(PreservationHold).where(PreservationHold.reference == text)))
    elif match := REFERRAL_REF.match(text):
        if referral_policy.can(identity, "view"):
            found = db.session.get(Referral, int(match.group(1)))
            result.referrals = [found] if found is not None else []
    else:
        return False
    result.reference = True
    return True


def search(identity: Identity, text: str, *, region: str = "US") -> SearchResult:
    text = (text or "").strip()[:MAX_QUERY]
    result = SearchResult(query=text)
    if not text:
        return result
    if _by_reference(identity, result, text.upper()):
        return result
    if TIPLINE_ID.match(text) and case_policy.can(identity, "list"):
        # A CyberTipline report id names the case the report was filed from.
        result.cases = list(db.session.scalars(
            select(Case).join(NcmecReport, NcmecReport.case_id == Case.id)
            .where(NcmecReport.remote_report_id == text)))
    result.forms = candidate_forms(text, region=region)
    if not result.forms:
        return result
    if case_policy.can(identity, "list"):
        result.cases += [c for c in _cases_with(result.forms) if c not in result.cases]
    if request_policy.can(identity, "view"):
        result.requests = _requests_with(result.forms)
    if hold_policy.can(identity, "list"):
        result.holds = _holds_with(result.forms)
    return result


@dataclass(frozen=True)
class RequestLinks:
    cases: list[Case]
    holds: list[PreservationHold]


def linked_to_request(identity: Identity, request: DisclosureRequest) -> RequestLinks:
    """The cases and holds that share an identifier with the request's targets (its own
    holds included: they are linked by the request already, and listed apart)."""
    forms = sorted({(t.kind, t.normalized) for t in request.targets})
    if not forms:
        return RequestLinks([], [])
    cases = _cases_with(forms) if case_policy.can(identity, "list") else []
    holds = ([h for h in _holds_with(forms) if h.request_id != request.id]
             if hold_policy.can(identity, "list") else [])
    return RequestLinks(cases, holds)
