"""Demo disclosure requests and holds: a made-up preservation request (which places its
hold), a made-up court order, and an internal legal hold on the first sample case. All go
through the real services, so their deadlines, holds and audit events are the real ones."""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import func, select

from referrals.accounts.models import User
from referrals.cases.models import Case
from referrals.core.clock import now
from referrals.core.identity import Identity
from referrals.extensions import db
from referrals.holds.services import place_internal_hold
from referrals.requests.intake import submit_request
from referrals.requests.models import DisclosureRequest

OFFICER = "det.rivera@metrocity-pd.example"


def _blank_pdf() -> bytes:
    """A one-page blank PDF standing for the legal process (nothing real)."""
    from pypdf import PdfWriter  # loaded on first use, not with the app (it pulls in fontTools)

    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.add_metadata({"/Title": "Synthetic demo legal process"})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _request(officer: User, **fields) -> DisclosureRequest:
    today = now().date()
    data = {
        "request_type": "court_order_2703d", "emergency": False, "addressed_to": "us",
        "issuing_authority": "Made-up Superior Court of Metro City",
        "officer_name": officer.full_name, "badge_number": "MC-4471",
        "official_email": officer.email, "phone": "+1 202 555 0100",
        "data_categories": ["subscriber", "login_logout"],
        "date_from": today - timedelta(days=90), "date_to": today - timedelta(days=1),
        "legal_basis": "", "offences": "Synthetic demo offence against made-up people",
        "user_notice_allowed": False, "nondisclosure_order": False, "nondisclosure_until": None,
        "emergency_description": "", "person_at_risk": "", "why_data_helps": "",
        "targets": [{"kind": "username", "value": "@lonewolf88"}],
    }
    data.update(fields)
    return submit_request(Identity.for_user(officer), data,
                          [("legal-process.pdf", io.BytesIO(_blank_pdf()))])


def seed_sample_requests(agent_id: int | None) -> int:
    """Once (skipped when any request exists): returns how many requests it made."""
    if db.session.scalar(select(func.count(DisclosureRequest.id))):
        return 0
    officer = db.session.scalar(select(User).where(User.email == OFFICER))
    if officer is None:
        return 0
    _request(officer, request_type="preservation",
             legal_basis="Made-up preservation letter under 18 U.S.C. 2703(f), demo case 26-0101",
             data_categories=["subscriber", "login_logout", "content"],
             targets=[{"kind": "username", "value": "@lonewolf88"},
                      {"kind": "email", "value": "lonewolf.made.up@example.com"}])
    _request(officer, legal_basis="Made-up order no. 26-MJ-0101 under 18 U.S.C. 2703(d)")

    case = db.session.scalar(select(Case).order_by(Case.id).limit(1))
    agent = db.session.get(User, agent_id) if agent_id is not None else None
    if case is not None and agent is not None:
        place_internal_hold(Identity.for_user(agent), case,
                            [("username", "@lonewolf88")], ["subscriber", "content"],
                            None, None, "Demo: made-up litigation hold while the case is open.")
    return 2
