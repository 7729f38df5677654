"""A referral delivered through the portal to a registered agency.

Staff press *Send through the portal* on an approved referral (``services.send_referral``,
method ``portal``): an encrypted package of the referral's evidence and its report PDF is
built in the background (``packages.start_delivery``, through the outbox), to the agency's
registered keys or to a one-time key its first officer sees once. In the transaction that
marks the package ready, ``package_ready`` records the disclosure (with the package's
SHA-256), moves the referral to *sent* and tells the agency's officers. They find it in the
portal (and the API), download the package (``packages.start_download``: counted, audited,
resumable, within the expiry and the limit) and acknowledge it with their reference.

Every lookup an officer makes goes through ``officer_referral_clause``: a referral of
another agency, one not delivered through the portal, or one not yet sent is exactly as
missing as one that does not exist.
"""

from __future__ import annotations

import json

from flask import current_app
from sqlalchemy import and_, false, select

from referrals.accounts.models import User
from referrals.agencies.models import Agency
from referrals.cases.models import Case
from referrals.core.clock import now
from referrals.core.errors import DomainError, NotFound, PermissionDenied
from referrals.core.identity import Identity
from referrals.core.mail import queue_mail
from referrals.extensions import db
from referrals.outbound import rules
from referrals.outbound.models import Referral
from referrals.outbound.report import manifest, render_report, report_values
from referrals.outbound.services import (items_of, record_sent, record_step, required_text,
                                         require_send, snapshot)
from referrals.packages import services as packages
from referrals.packages.contents import delivery_contents
from referrals.packages.models import EvidencePackage

NOT_OFFICER = "Only an approved officer of the agency may do that."


def _referral_for_package(package: EvidencePackage) -> Referral:
    """The referral a portal package delivers (a re-issued package stands for the one it
    replaced until it is ready)."""
    ids = [package.id] + ([package.reissue_of_id] if package.reissue_of_id else [])
    referral = db.session.scalar(select(Referral).where(Referral.package_id.in_(ids))
                                 .order_by(Referral.id).limit(1))
    if referral is None:
        raise DomainError(f"No referral is delivered in package {package.label}.")
    return referral


def package_contents(package: EvidencePackage, prepared_by: str):
    """What the package carries: the referral's evidence and its report (PDF/A-3b, with the
    machine-readable manifest attached), rendered from plain values in the build job."""
    referral = _referral_for_package(package)
    values = report_values(referral)
    pdf = render_report(values)
    return delivery_contents(
        package.label, items_of(referral), reference=referral.reference,
        description=f"Referral {referral.reference} of case {referral.case.reference} to "
                    f"{referral.agency.name}",
        report_pdf=pdf, report_name=f"{referral.reference}-referral-report.pdf",
        manifest={"referral": referral.reference, "case": referral.case.reference,
                  "agency": referral.agency.name, "report_document_id": values["document_id"],
                  "report": json.loads(manifest(values))})


def package_ready(actor: Identity, package: EvidencePackage) -> None:
    """The package is whole: the referral is sent (the disclosure record with the package's
    hash) and the agency's officers are told; a re-issued package replaces the old one."""
    referral = _referral_for_package(package)
    case = db.session.get(Case, referral.case_id)
    if referral.status in rules.SENT_STATUSES:
        before = snapshot(referral)
        referral.package_id = package.id
        record_step(actor, "package_reissued", referral, case,
                f"package issued again to the portal: {package.label}.", before)
        _tell_officers(referral, f"The package of referral {referral.reference} was issued "
                                 "again.")
        return
    if referral.status != "approved" or referral.delivery_method != "portal":
        raise DomainError(f"Referral {referral.reference} is "
                          f"{rules.STATUSES[referral.status].lower()}: nothing was sent.")
    record_sent(actor, case, referral, method="portal", delivered_at=now(), package=package,
                how=f"delivered through the portal in package {package.label}")
    _tell_officers(referral, f"A referral from the platform, {referral.reference}, is ready "
                             "for your agency.")


packages.register_delivery(rules.PORTAL_PACKAGE, packages.Delivery(
    contents=package_contents, ready=package_ready))


def portal_officers(agency: Agency) -> list[User]:
    """The agency's officers who may sign in to the portal and see its referrals."""
    return list(db.session.scalars(select(User).where(
        User.agency_id == agency.id, User.kind == "agency", User.active.is_(True),
        User.approved_at.is_not(None)).order_by(User.id)))


def portal_refusal(agency: Agency) -> str | None:
    """Why a referral cannot go to ``agency`` through the portal; None if it can."""
    if agency.status != "verified":
        return (f"{agency.name} is not a verified agency of the registry: deliver the "
                "referral by hand.")
    if not portal_officers(agency):
        return (f"No officer of {agency.name} is registered and approved in the portal: "
                "deliver the referral by hand.")
    return None


def send_through_portal(actor: Identity, case: Case, referral: Referral,
                        note: str = "") -> EvidencePackage:
    """Send an approved referral through the portal: its package is built in the background
    (to the agency's keys, or a one-time key) and the referral is sent when it is ready.
    ``note`` is the message its officers read (a plain default says what it is about)."""
    require_send(actor, referral)
    refusal = portal_refusal(referral.agency)
    if refusal:
        raise DomainError(refusal)
    before = snapshot(referral)
    referral.delivery_method = "portal"
    referral.portal_message = (note or "").strip()[:4000] or (
        f"The Law Enforcement Response team refers a matter to {referral.agency.name}: "
        f"{referral.summary[:600]}")
    package = packages.start_delivery(actor, case, referral.agency, rules.PORTAL_PACKAGE)
    referral.package_id = package.id
    db.session.flush()
    record_step(actor, "packaging", referral, case,
            f"being packaged for the portal ({package.label}).", before)


def _tell_officers(referral: Referral, first_line: str) -> None:
    settings = current_app.config["REFERRALS_SETTINGS"]
    # The mail says only that there is something to fetch: nothing of the case by e-mail.
    queue_mail([u.email for u in portal_officers(referral.agency)],
               "A referral for your agency",
               f"{first_line} Sign in to the portal to read it and download its package:\n\n"
               f"{settings.base_url}/portal/referrals/{referral.reference}\n")


# --- the officers' side ---------------------------------------------------------------------


def officer_referral_clause(identity: Identity):
    """SQL condition over ``Referral``: the officer may see it (an approved officer of the
    recipient agency; delivered through the portal; sent). False for anyone else."""
    if not (identity.is_agency and identity.agency_id and identity.user_id):
        return false()
    approved = select(User.agency_id).where(
        User.id == identity.user_id, User.approved_at.is_not(None)).correlate(None)
    return and_(Referral.agency_id == identity.agency_id, Referral.agency_id.in_(approved),
                Referral.delivery_method == "portal",
                Referral.status.in_(rules.SENT_STATUSES))


def officer_referrals(identity: Identity) -> list[Referral]:
    return list(db.session.scalars(select(Referral).where(officer_referral_clause(identity))
                                   .order_by(Referral.sent_at.desc(), Referral.id.desc())))


def _referral_id(reference: str) -> int | None:
    reference = (reference or "").strip().upper()
    number = reference.removeprefix("RFL-")
    return int(number) if number != reference and number.isdigit() else None


def get_referral_for_officer(identity: Identity, reference: str) -> Referral:
    referral_id = _referral_id(reference)
    referral = None if referral_id is None else db.session.scalar(
        select(Referral).where(officer_referral_clause(identity), Referral.id == referral_id))
    if referral is None:
        raise NotFound("There is no such referral.")
    return referral


def officer_package(referral: Referral) -> EvidencePackage:
    """The referral's package as the officer sees it (ready or expired)."""
    package = referral.package
    if package is None or package.status not in ("ready", "expired"):
        raise NotFound("There is no such package.")
    return package


def acknowledge_received(identity: Identity, referral: Referral,
                         agency_reference: str) -> Referral:
    """The officer acknowledges the referral with their agency's reference: sent →
    acknowledged (the caller looked the referral up through the officer scope)."""
    if db.session.scalar(select(Referral.id).where(
            officer_referral_clause(identity), Referral.id == referral.id)) is None:
        raise PermissionDenied(NOT_OFFICER)
    if referral.status != "sent":
        raise DomainError(f"This referral was acknowledged already"
                          f"{f' (your reference {referral.agency_reference})' if referral.agency_reference else ''}.")
    reference = required_text(agency_reference, "agency_reference",
                              "Give your agency's reference for this referral.", limit=120)
    case = db.session.get(Case, referral.case_id)
    before = snapshot(referral)
    rules.REFERRAL_STATES.require(referral.status, "acknowledged", by="acknowledge")
    referral.status = "acknowledged"
    referral.agency_reference = reference
    referral.acknowledged_at = now()
    record_step(identity, "acknowledged", referral, case,
            f"acknowledged in the portal by {referral.agency.name}, their reference "
            f"{reference}.", before)
    return referral


def portal_state(referral: Referral) -> dict:
    """For the staff page: how far the portal delivery got."""
    package = referral.package
    return {"package": package,
            "progress": packages.progress_of(package) if package else None,
            "downloads": [d for d in (package.downloads if package else []) if d.via != "staff"]}
