"""Demo data: made-up people and agencies, with known passwords and TOTP secrets."""

from __future__ import annotations

import base64
import hashlib

from sqlalchemy import select

from referrals.accounts import services as accounts
from referrals.agencies.models import Agency, AgencyDomain, AgencyPhone
from referrals.audit.services import record_event
from referrals.core.clock import now
from referrals.core.identity import STAFF_ROLES, system_identity
from referrals.demo.cases import seed_sample_cases
from referrals.demo.requests import seed_sample_requests
from referrals.extensions import db

DEMO_DOMAIN = "referrals.example"
DEMO_AGENCIES = [
    {"name": "Metro City Police Department", "kind": "law_enforcement", "country": "US",
     "legal_entity": "us", "domain": "metrocity-pd.example", "phone": ("+12025550100", "Duty desk"),
     "officer": ("det.rivera@metrocity-pd.example", "Det. Alex Rivera")},
    {"name": "Northshire Constabulary", "kind": "law_enforcement", "country": "GB",
     "legal_entity": "uk", "domain": "northshire-police.example",
     "phone": ("+442079460000", "Force control room"),
     "officer": ("dc.okafor@northshire-police.example", "DC Sam Okafor")},
]
STAFF_NAMES = {
    "agent": "Jordan Agent",
    "supervisor": "Morgan Supervisor",
    "compliance": "Casey Compliance",
    "admin": "Riley Admin",
}


def is_demo_email(email: str) -> bool:
    return email.endswith("@" + DEMO_DOMAIN) or email in {
        a["officer"][0] for a in DEMO_AGENCIES
    }


def demo_password(email: str) -> str:
    return f"demo-{email.split('@')[0].replace('.', '-')}-passphrase"


def demo_totp_key(email: str) -> str:
    digest = hashlib.sha256(f"referrals-demo-totp:{email}".encode()).digest()[:20]
    return base64.b32encode(digest).decode()


def _ensure_user(actor, email: str, make) -> tuple:
    user = accounts.find_user_by_email(email)
    if user is None:
        user, _ = make()
        accounts.set_totp_key(actor, user, demo_totp_key(email))
    return user


def seed_demo() -> list[dict]:
    actor = system_identity("cli:demo seed")
    accounts.ensure_roles()
    rows = []
    for role in STAFF_ROLES:
        email = f"{role}@{DEMO_DOMAIN}"
        _ensure_user(actor, email, lambda: accounts.create_staff_user(
            actor, email=email, full_name=STAFF_NAMES[role], roles=[role],
            cleared_for_csam=role in {"agent", "supervisor"}, password=demo_password(email),
        ))
        rows.append({"email": email, "password": demo_password(email), "what": role,
                     "totp_key": demo_totp_key(email)})
    for spec in DEMO_AGENCIES:
        agency = db.session.scalar(select(Agency).where(Agency.name == spec["name"]))
        if agency is None:
            agency = Agency(name=spec["name"], kind=spec["kind"], country=spec["country"],
                            status="verified", legal_entity=spec["legal_entity"], created_at=now())
            agency.domains = [AgencyDomain(domain=spec["domain"])]
            agency.phones = [AgencyPhone(number=spec["phone"][0], label=spec["phone"][1])]
            db.session.add(agency)
            db.session.flush()
            record_event(actor, "agency.created", object_type="agency", object_id=agency.id,
                         agency_id=agency.id, after={"name": agency.name, "status": agency.status})
        email, name = spec["officer"]
        _ensure_user(actor, email, lambda: accounts.create_agency_user(
            actor, agency=agency, email=email, full_name=name, password=demo_password(email),
        ))
        rows.append({"email": email, "password": demo_password(email),
                     "what": f"officer, {agency.name}", "totp_key": demo_totp_key(email)})

    agent = accounts.find_user_by_email(f"agent@{DEMO_DOMAIN}")
    seed_sample_cases(agent.id if agent else None)
    seed_sample_requests(agent.id if agent else None)
    return rows
