"""Who is asking: the signals about a request's sender, for the staff request page.

A short panel, separate from the request's own checks: how old the officer's account is, who
approved it and when, what the directory says of its e-mail domain (and of the address typed
on the request, if another), whether this is the officer's first request, and whether the
phone number given is one of the agency registry's. Signals inform; they never hold up an
emergency: the page points to the call-back on a registry number instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import func, select

from referrals.core.clock import now
from referrals.directory.lookup import DomainAssessment, assess_email
from referrals.extensions import db
from referrals.requests.models import DisclosureRequest
from referrals.vocabulary.identifiers import e164, email_domain, parse_phone


@dataclass
class Requester:
    account_email: str
    account_days: int | None
    registered_at: object
    approved_at: object
    approved_by: str
    domain: DomainAssessment
    request_domain: DomainAssessment | None      # the address typed on the request, if another
    earlier_requests: int
    phone_given: str
    phone_match: str                             # the registry label it matches, or ""
    registry_numbers: int
    warnings: list[str] = field(default_factory=list)

    @property
    def first_request(self) -> bool:
        return self.earlier_requests == 0


def _same_number(given: str, numbers: list[tuple[str, str]]) -> str | None:
    parsed = parse_phone(given or "", current_app.config["REFERRALS_PHONE_REGION"])
    if parsed is None:
        return None
    wanted = e164(parsed)
    return next((label or number for number, label in numbers if number == wanted), None)


def who_is_asking(found: DisclosureRequest) -> Requester:
    user = found.submitted_by
    account = assess_email(user.email)
    typed = None
    if email_domain(found.official_email or user.email) != email_domain(user.email):
        typed = assess_email(found.official_email)
    earlier = db.session.scalar(select(func.count(DisclosureRequest.id)).where(
        DisclosureRequest.submitted_by_id == user.id, DisclosureRequest.id < found.id)) or 0
    numbers = [(p.number, p.label) for p in found.agency.phones]
    match = _same_number(found.phone, numbers)
    warnings = list(account.flags)
    if typed is not None:
        warnings.append(f"The request gives {found.official_email}, not the account's address "
                        f"{user.email}.")
        warnings += typed.flags
    if user.approved_at is None:
        warnings.append("The officer's account is not approved yet.")
    if match is None and found.phone:
        warnings.append("The phone number given is not one of the agency registry's numbers: "
                        "call back only on a registry number.")
    created = user.created_at
    return Requester(
        account_email=user.email,
        account_days=(now() - created).days if created else None,
        registered_at=created, approved_at=user.approved_at,
        approved_by=user.approved_by.display_name if user.approved_by else "",
        domain=account, request_domain=typed, earlier_requests=earlier,
        phone_given=found.phone or "", phone_match=match or "",
        registry_numbers=len(numbers), warnings=warnings)
