"""The portal's side of referrals: the officers of the recipient agency see the referrals
delivered to it through the portal (a list and a page), download each one's package
(counted, audited, resumable; ``packages.delivery``), take a one-time key once and
acknowledge the referral with their reference. Every lookup goes through the officer scope
in the query (``delivery.officer_referral_clause``)."""

from __future__ import annotations

from flask import redirect, render_template, url_for

from referrals.audit.services import record_view
from referrals.core.acting import act, attempt
from referrals.core.forms import ConfirmForm
from referrals.core.guards import portal_blueprint
from referrals.core.identity import current_identity
from referrals.outbound import delivery, rules
from referrals.outbound.forms import AcknowledgeForm
from referrals.packages import services as packages
from referrals.packages.delivery import file_response, requested_range, text_file_response

bp = portal_blueprint("portal_referrals", __name__, url_prefix="/portal/referrals")


@bp.get("/")
def index():
    return render_template("outbound/portal_index.html",
                           referrals=delivery.officer_referrals(current_identity()),
                           statuses=rules.STATUSES)


@bp.get("/<reference>")
def detail(reference: str):
    identity = current_identity()
    referral = delivery.get_referral_for_officer(identity, reference)
    page = render_template(
        "outbound/portal_detail.html", referral=referral, statuses=rules.STATUSES,
        legal_bases=rules.LEGAL_BASES, package=referral.package,
        availability=packages.availability, downloads_left=packages.downloads_left,
        confirm=ConfirmForm(), ack_form=AcknowledgeForm(prefix="ack"))
    record_view(identity, "referral", referral.reference, agency_id=referral.agency_id)
    return page


@bp.get("/<reference>/package")
def download(reference: str):
    identity = current_identity()
    package = delivery.officer_package(delivery.get_referral_for_officer(identity, reference))
    path = packages.start_download(identity, package, via="portal",
                                   byte_range=requested_range(package))
    return file_response(package, path)


@bp.get("/<reference>/package/<any(sha256, sig):which>")
def checksum(reference: str, which: str):
    """The package's .sha256 (or its .sig): not counted as a download."""
    package = delivery.officer_package(
        delivery.get_referral_for_officer(current_identity(), reference))
    return text_file_response(*packages.checksum_file(package, which))


@bp.post("/<reference>/package/key")
def key(reference: str):
    identity = current_identity()
    referral = delivery.get_referral_for_officer(identity, reference)
    package = delivery.officer_package(referral)
    back = url_for(".detail", reference=referral.reference) + "#package"
    if not ConfirmForm().validate_on_submit():
        return redirect(back)
    outcome = attempt(packages.reveal_one_time_key, identity, package)
    if not outcome.ok:
        return redirect(back)
    return render_template("packages/key.html", package=package, secret=outcome.value,
                           back=back, portal=True)


@bp.post("/<reference>/acknowledge")
def acknowledge(reference: str):
    identity = current_identity()
    referral = delivery.get_referral_for_officer(identity, reference)
    form = AcknowledgeForm(prefix="ack")
    act(form, delivery.acknowledge_received, identity, referral, form.agency_reference.data or "",
        done="Thank you: the LER team sees your reference.")
    return redirect(url_for(".detail", reference=referral.reference))
