"""Helpers for the request, portal and agency tests: synthetic data and made-up people only."""

from __future__ import annotations

import base64
import io
import json
import re
from datetime import date, timedelta

from pypdf import PdfWriter
from sqlalchemy import select

from referrals.agencies.models import Agency, AgencyDomain, AgencyPhone
from referrals.audit.models import AuditEvent
from referrals.core.clock import now
from referrals.evidence.services import add_collected_evidence
from referrals.core.identity import Identity
from referrals.extensions import db
from referrals.requests import services
from referrals.requests.intake import submit_request
from referrals.requests.models import DisclosureRequest
from tests.conftest import csrf_from

LEGAL_BASIS = "Made-up Court order no. 26-MJ-0420 under 18 U.S.C. 2703(d)"
OFFENCES = "Synthetic fraud scheme against made-up victims"


# --- documents ----------------------------------------------------------------------------


def pdf_bytes(pages: int = 1, *, password: str | None = None, padding: int = 0) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    if padding:
        writer.add_metadata({"/Padding": "x" * padding})
    if password:
        writer.encrypt(password)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


# --- agencies -----------------------------------------------------------------------------


def make_agency(name: str, *, domains=(), phones=(), status="verified", legal_entity="us",
                country="US") -> Agency:
    agency = Agency(name=name, kind="law_enforcement", country=country, status=status,
                    legal_entity=legal_entity, created_at=now())
    agency.domains = [AgencyDomain(domain=d) for d in domains]
    agency.phones = [AgencyPhone(number=n, label=label) for n, label in phones]
    db.session.add(agency)
    db.session.flush()
    return agency


# --- requests -------------------------------------------------------------------------------


def request_data(**overrides) -> dict:
    """A request as submit_request takes it (Python values)."""
    today = now().date()
    data = {
        "request_type": "court_order_2703d",
        "emergency": False,
        "addressed_to": "us",
        "issuing_authority": "Made-up District Court",
        "officer_name": "Det. Made Up",
        "badge_number": "B-0001",
        "official_email": "det.madeup@metro-a.police.example",
        "phone": "+1 202 555 0100",
        "data_categories": ["subscriber", "login_logout"],
        "date_from": today - timedelta(days=60),
        "date_to": today - timedelta(days=1),
        "legal_basis": LEGAL_BASIS,
        "offences": OFFENCES,
        "user_notice_allowed": False,
        "nondisclosure_order": False,
        "nondisclosure_until": None,
        "emergency_description": "",
        "person_at_risk": "",
        "why_data_helps": "",
        "targets": [{"kind": "username", "value": "@made_up_target_one"}],
    }
    if overrides.get("request_type") == "emergency":
        data.update(emergency_description="Made-up threat of imminent harm",
                    person_at_risk="A made-up person, age 15",
                    why_data_helps="Location of the made-up account holder",
                    legal_basis="", issuing_authority="", good_faith_attested=True)
    data.update(overrides)
    return data


def submit(officer, documents=None, **overrides) -> DisclosureRequest:
    """Submit through the service as ``officer`` (a PDF attached unless told otherwise)."""
    if documents is None:
        documents = [("legal-process.pdf", io.BytesIO(pdf_bytes()))]
    return submit_request(Identity.for_user(officer), request_data(**overrides), documents)


def eu_order_record(officer, request_type: str = "eu_epoc") -> DisclosureRequest:
    """A request standing for an EU order received by our EU entity, for tests whose clock
    stands before 18 August 2026 (intake refuses EU orders until then, and from agencies
    outside the participating member states): an MLAT request, recorded as the order."""
    request = submit(officer, request_type="mlat", addressed_to="eu")
    request.request_type, request.legal_entity = request_type, "eu"
    db.session.flush()
    return request


def portal_form(csrf: str, **overrides) -> dict:
    """The portal's new-request form as a browser posts it (strings, one file)."""
    today = now().date()
    data = {
        "csrf_token": csrf,
        "request_type": "court_order_2703d",
        "addressed_to": "us",
        "issuing_authority": "Made-up District Court",
        "officer_name": "Det. Made Up",
        "badge_number": "B-0001",
        "official_email": "det.madeup@metro-a.police.example",
        "phone": "+1 202 555 0100",
        "data_categories": ["subscriber", "login_logout"],
        "date_from": (today - timedelta(days=60)).isoformat(),
        "date_to": (today - timedelta(days=1)).isoformat(),
        "legal_basis": LEGAL_BASIS,
        "offences": OFFENCES,
        "target_kind_0": "username",
        "target_value_0": "@made_up_target_one",
        "documents": (io.BytesIO(pdf_bytes()), "order.pdf"),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def api_body(**overrides) -> dict:
    today = now().date()
    body = {
        "request_type": "court_order_2703d",
        "addressed_to": "us",
        "issuing_authority": "Made-up District Court",
        "officer_name": "Det. Made Up",
        "official_email": "det.madeup@metro-a.police.example",
        "phone": "+1 202 555 0100",
        "data_categories": ["subscriber"],
        "date_from": (today - timedelta(days=30)).isoformat(),
        "date_to": (today - timedelta(days=1)).isoformat(),
        "legal_basis": LEGAL_BASIS,
        "offences": OFFENCES,
        "targets": [{"kind": "platform_user_id", "value": "u-made-up-42"}],
        "documents": [{"filename": "order.pdf",
                       "content_base64": base64.b64encode(pdf_bytes()).decode()}],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def reload_request(reference: str) -> DisclosureRequest:
    db.session.expire_all()
    return db.session.scalar(select(DisclosureRequest).where(DisclosureRequest.reference == reference))


def as_identity(user) -> Identity:
    return Identity.for_user(user)


def move(user, request, *statuses: str, reason: str = "Made-up reason") -> None:
    for status in statuses:
        services.move_request(as_identity(user), request, status, reason)


def decide_all(user, request, decision: str = "produce", reason: str = "") -> None:
    services.decide_targets(as_identity(user), request,
                            {t.id: (decision, reason) for t in request.targets})


# --- pages ----------------------------------------------------------------------------------


FLASH = re.compile(r'class="flash flash-(\w+)" role="\w+">([^<]*)<')
ERROR = re.compile(r'<p class="error">([^<]*)</p>')


def flashes(html: str) -> list[tuple[str, str]]:
    return [(kind, text.strip()) for kind, text in FLASH.findall(html)]


def field_errors(html: str) -> list[str]:
    return [e.strip() for e in ERROR.findall(html)]


def post_form(client, page_url: str, action_url: str | None = None, data: dict | None = None,
              **kwargs):
    page = client.get(page_url)
    assert page.status_code == 200, page.text[:2000]
    payload = {"csrf_token": csrf_from(page.text), **(data or {})}
    return client.post(action_url or page_url, data=payload, **kwargs)


def follow(client, response):
    assert response.status_code == 302, (response.status_code, response.text[:2000])
    return client.get(response.headers["Location"])


def normalized(html: str) -> str:
    """A page without what differs between two requests of the same page (CSRF tokens, and
    the random tokens of files a refused form keeps: core.kept_uploads)."""
    html = re.sub(r'name="csrf_token"( type="hidden")? value="[^"]+"', 'name="csrf_token"', html)
    return re.sub(r'name="(kept_upload|drop_upload)" value="[^"]+"', r'name="\1"', html)


def unescape(html: str) -> str:
    import html as html_module

    return html_module.unescape(html)


# --- audit ----------------------------------------------------------------------------------


def audit_events(action: str | None = None, object_id=None) -> list[AuditEvent]:
    query = select(AuditEvent)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if object_id is not None:
        query = query.where(AuditEvent.object_id == str(object_id))
    return list(db.session.scalars(query.order_by(AuditEvent.seq)))


def actions_for(object_id) -> list[str]:
    return [e.action for e in audit_events(object_id=object_id)]


def after(event: AuditEvent) -> dict:
    return json.loads(event.after) if event.after else {}


def before(event: AuditEvent) -> dict:
    return json.loads(event.before) if event.before else {}


def days(n: int) -> timedelta:
    return timedelta(days=n)


def d(text: str) -> date:
    return date.fromisoformat(text)


def keep_signed_in(browser, moment) -> None:
    """After the test clock jumps, make ``browser``'s session look freshly used at ``moment``
    (the server enforces idle and absolute limits against the same clock)."""
    with browser.session_transaction() as session:
        session["signed_in_at"] = moment.isoformat()
        session["last_seen_at"] = moment.isoformat()


RELEASED = ("Disclosure recorded. The package is being built: this section shows how far it "
            "got; the agency is told when it is ready.")


def collected_for(request) -> None:
    """A (synthetic) collected item for the request's first target and category, as the
    platform connector names them: something the release can package."""
    target = request.targets[0]
    category = request.data_categories[0]
    add_collected_evidence(Identity(kind="system", label="test collection"),
                           io.BytesIO(b'{"synthetic": "collected"}\n'), request=request,
                           original_name=f"{category}-{target.kind}-{target.normalized}.json",
                           data_category=category,
                           source_system="demo-platform", purpose="Synthetic collection")
