"""A known history for the transparency report (synthetic): requests of every kind from three
countries, disclosures, refusals, non-disclosure orders, user notices, preservation holds and
CyberTipline reports, inside and just outside 2026-H2. The numbers it must give are written
out by hand in ``EXPECTED`` (not recomputed by the code under test)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from referrals.agencies.models import Agency
from referrals.cases.services import open_case
from referrals.core.identity import system_identity
from referrals.disclosures.models import Disclosure
from referrals.extensions import db
from referrals.holds.models import PreservationHold
from referrals.ncmec.models import NcmecReport
from referrals.requests.models import DisclosureRequest, RequestTarget, UserNoticeTask
from tests import factories

SYSTEM = system_identity("test:transparency history")
_numbers = itertools.count(1)


def at(year, month, day, hour=12, minute=0, second=0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


class History:
    def __init__(self):
        self.officer = factories.make_user("officer")
        self.approver = factories.make_user("supervisor")
        self.releaser = factories.make_user("supervisor")
        self.agencies: dict[str, Agency] = {}
        self.requests: dict[int, DisclosureRequest] = {}

    def agency(self, name: str, country: str) -> Agency:
        if name not in self.agencies:
            agency = Agency(name=name, kind="law_enforcement", country=country,
                            status="verified", created_at=at(2026, 1, 1))
            db.session.add(agency)
            db.session.flush()
            self.agencies[name] = agency
        return self.agencies[name]

    def request(self, number: int, agency: Agency, kind: str, received_at: datetime, *,
                targets: int = 1, disclosures: int = 0, ndo: bool = False,
                ndo_until: date | None = None, hold: bool = False,
                notice_done_at: datetime | None = None, status: str = "received"):
        request = DisclosureRequest(
            reference=f"REQ-2026-{900000 + next(_numbers):06d}", agency_id=agency.id,
            submitted_by_id=self.officer.id, request_type=kind, emergency=kind == "emergency",
            status=status, is_open=status not in ("rejected", "closed"), addressed_to="us",
            officer_name="Synthetic Officer", official_email="officer@agency.example",
            phone="+12025550100", received_at=received_at, updated_at=received_at,
            nondisclosure_order=ndo, nondisclosure_until=ndo_until, data_categories=[])
        request.targets = [RequestTarget(kind="username", value=f"user{number}x{i}",
                                         normalized=f"user{number}x{i}")
                           for i in range(targets)]
        db.session.add(request)
        db.session.flush()
        for n in range(disclosures):
            db.session.add(Disclosure(
                kind="emergency_disclosure" if kind == "emergency" else "production",
                request_id=request.id, agency_id=agency.id, recipient_name=agency.name,
                recipient_country=agency.country, legal_basis="Synthetic legal basis",
                prepared_by_id=None, approved_by_id=self.approver.id,
                disclosed_by_id=self.releaser.id,
                disclosed_at=received_at + timedelta(days=3 + n)))
        if hold:
            db.session.add(PreservationHold(
                reference=f"HOLD-2026-{900000 + number:06d}", kind="us_2703f", status="active",
                request_id=request.id, agency_id=agency.id, data_categories=["subscriber"],
                starts_at=received_at, expires_at=received_at + timedelta(days=90),
                placed_by_label="history", placed_at=received_at, updated_at=received_at))
        if notice_done_at is not None:
            db.session.add(UserNoticeTask(request_id=request.id, due_at=received_at,
                                          reason="Synthetic: notice allowed",
                                          done_at=notice_done_at))
        db.session.flush()
        self.requests[number] = request
        return request

    def cybertipline(self, case, status: str, finished_at: datetime | None):
        db.session.add(NcmecReport(case_id=case.id, status=status, evidence_ids=[],
                                   identifiers=[], drafted_by_label="history",
                                   drafted_at=at(2026, 1, 2), finished_at=finished_at))
        db.session.flush()


def build_history() -> History:
    h = History()
    us1, us2 = h.agency("Synthetic County Sheriff", "US"), h.agency("Synthetic City PD", "US")
    gb, de = h.agency("Synthetic Constabulary", "GB"), h.agency("Synthetic Landespolizei", "DE")
    fr = h.agency("Synthetic Gendarmerie", "FR")
    # United States
    h.request(1, us1, "subpoena", at(2026, 7, 1, 0, 0, 0), disclosures=2, ndo=True,
              ndo_until=date(2027, 6, 1), notice_done_at=at(2027, 1, 5))
    h.request(2, us1, "subpoena", at(2026, 7, 15), targets=2, status="rejected")
    h.request(3, us2, "search_warrant", at(2026, 8, 2), targets=3, disclosures=1, ndo=True)
    h.request(4, us2, "court_order_2703d", at(2026, 9, 9), disclosures=1,
              notice_done_at=at(2026, 10, 1))
    h.request(5, us1, "emergency", at(2026, 10, 3), disclosures=1)
    h.request(6, us2, "emergency", at(2026, 11, 4), targets=2, status="closed")
    h.request(7, us1, "preservation", at(2026, 8, 8), targets=2, hold=True)
    h.request(8, us1, "preservation_renewal", at(2026, 11, 6))
    # United Kingdom
    h.request(9, gb, "uk_opo", at(2026, 9, 1), targets=2, disclosures=1,
              notice_done_at=at(2026, 12, 31, 23, 59, 59))
    h.request(10, gb, "uk_us_daa", at(2026, 10, 10), ndo=True, ndo_until=date(2027, 3, 1))
    h.request(11, gb, "emergency", at(2026, 12, 24), disclosures=1)
    h.request(12, gb, "preservation", at(2026, 7, 20), hold=True)
    # Germany
    h.request(13, de, "eu_epoc", at(2026, 9, 20), targets=4, disclosures=1)
    h.request(14, de, "eu_epoc_pr", at(2026, 9, 21), targets=2, hold=True)
    h.request(15, de, "mlat", at(2026, 12, 1))
    # Just outside the half-year: none of these requests count ...
    h.request(16, us1, "subpoena", at(2026, 6, 30, 23, 59, 59), disclosures=1,
              # ... but a notice given inside it counts, with the request's country
              notice_done_at=at(2026, 7, 2))
    h.request(17, gb, "uk_opo", at(2027, 1, 1, 0, 0, 0), disclosures=1)
    h.request(18, fr, "other", at(2026, 5, 1), disclosures=1)
    # CyberTipline reports: finished in the half-year count, by report and by case
    first = open_case(SYSTEM, title="Synthetic history case A", category="other", check=False)
    second = open_case(SYSTEM, title="Synthetic history case B", category="other", check=False)
    h.cybertipline(first, "finished", at(2026, 9, 1))
    h.cybertipline(first, "finished", at(2026, 10, 1))
    h.cybertipline(second, "finished", at(2026, 11, 1))
    h.cybertipline(second, "finished", at(2026, 3, 1))  # the first half-year
    h.cybertipline(second, "retracted", None)
    h.cybertipline(second, "draft", None)
    return h


P = "2026-H2"
EXPECTED = {
    "summary": [
        {"period": P, "countries": 3, "legal_requests": 8, "emergency_requests": 3,
         "total_requests": 11, "total_accounts_specified": 19,
         "total_requests_some_data_disclosed": 7, "total_share_some_data_disclosed": 63.6,
         "preservation_requests": 4, "requests_with_nondisclosure_order": 3,
         "user_notices_given": 3, "cybertipline_reports": 3, "cybertipline_cases_reported": 2},
    ],
    "requests_by_country": [
        {"period": P, "country": "DE", "legal_requests": 2, "legal_accounts_specified": 5,
         "legal_requests_some_data_disclosed": 1, "legal_share_some_data_disclosed": 50.0,
         "emergency_requests": 0, "emergency_accounts_specified": 0,
         "emergency_requests_some_data_disclosed": 0, "emergency_share_some_data_disclosed": None,
         "total_requests": 2, "total_accounts_specified": 5,
         "total_requests_some_data_disclosed": 1, "total_share_some_data_disclosed": 50.0},
        {"period": P, "country": "GB", "legal_requests": 2, "legal_accounts_specified": 3,
         "legal_requests_some_data_disclosed": 1, "legal_share_some_data_disclosed": 50.0,
         "emergency_requests": 1, "emergency_accounts_specified": 1,
         "emergency_requests_some_data_disclosed": 1,
         "emergency_share_some_data_disclosed": 100.0,
         "total_requests": 3, "total_accounts_specified": 4,
         "total_requests_some_data_disclosed": 2, "total_share_some_data_disclosed": 66.7},
        {"period": P, "country": "US", "legal_requests": 4, "legal_accounts_specified": 7,
         "legal_requests_some_data_disclosed": 3, "legal_share_some_data_disclosed": 75.0,
         "emergency_requests": 2, "emergency_accounts_specified": 3,
         "emergency_requests_some_data_disclosed": 1, "emergency_share_some_data_disclosed": 50.0,
         "total_requests": 6, "total_accounts_specified": 10,
         "total_requests_some_data_disclosed": 4, "total_share_some_data_disclosed": 66.7},
    ],
    "legal_process_by_type": [
        {"period": P, "country": "DE", "legal_process_type": "eu_epoc",
         "legal_process_label": "European Production Order (EPOC)", "requests": 1,
         "accounts_specified": 4, "requests_some_data_disclosed": 1,
         "share_some_data_disclosed": 100.0},
        {"period": P, "country": "DE", "legal_process_type": "mlat",
         "legal_process_label": "MLAT request", "requests": 1, "accounts_specified": 1,
         "requests_some_data_disclosed": 0, "share_some_data_disclosed": 0.0},
        {"period": P, "country": "GB", "legal_process_type": "uk_opo",
         "legal_process_label": "UK overseas production order (Crime (Overseas Production "
                                "Orders) Act 2019)", "requests": 1, "accounts_specified": 2,
         "requests_some_data_disclosed": 1, "share_some_data_disclosed": 100.0},
        {"period": P, "country": "GB", "legal_process_type": "uk_us_daa",
         "legal_process_label": "Order under the UK–US Data Access Agreement", "requests": 1,
         "accounts_specified": 1, "requests_some_data_disclosed": 0,
         "share_some_data_disclosed": 0.0},
        {"period": P, "country": "US", "legal_process_type": "subpoena",
         "legal_process_label": "Subpoena (18 U.S.C. 2703(c)(2))", "requests": 2,
         "accounts_specified": 3, "requests_some_data_disclosed": 1,
         "share_some_data_disclosed": 50.0},
        {"period": P, "country": "US", "legal_process_type": "court_order_2703d",
         "legal_process_label": "Court order, 18 U.S.C. 2703(d)", "requests": 1,
         "accounts_specified": 1, "requests_some_data_disclosed": 1,
         "share_some_data_disclosed": 100.0},
        {"period": P, "country": "US", "legal_process_type": "search_warrant",
         "legal_process_label": "Search warrant", "requests": 1, "accounts_specified": 3,
         "requests_some_data_disclosed": 1, "share_some_data_disclosed": 100.0},
    ],
    "preservation_by_country": [
        {"period": P, "country": "DE", "preservation_requests": 1, "renewal_requests": 0,
         "accounts_specified": 2, "holds_placed": 1},
        {"period": P, "country": "GB", "preservation_requests": 1, "renewal_requests": 0,
         "accounts_specified": 1, "holds_placed": 1},
        {"period": P, "country": "US", "preservation_requests": 2, "renewal_requests": 1,
         "accounts_specified": 3, "holds_placed": 1},
    ],
    "user_notice_by_country": [
        {"period": P, "country": "DE", "requests": 2, "requests_with_nondisclosure_order": 0,
         "share_with_nondisclosure_order": 0.0, "nondisclosure_orders_without_end_date": 0,
         "user_notices_given": 0},
        {"period": P, "country": "GB", "requests": 3, "requests_with_nondisclosure_order": 1,
         "share_with_nondisclosure_order": 33.3, "nondisclosure_orders_without_end_date": 0,
         "user_notices_given": 1},
        {"period": P, "country": "US", "requests": 6, "requests_with_nondisclosure_order": 2,
         "share_with_nondisclosure_order": 33.3, "nondisclosure_orders_without_end_date": 1,
         "user_notices_given": 2},
    ],
}
