"""The portal's side of packages: the officers of a request download its production (the
request page lists them, ``portal_panel``), see a one-time key once, and read how to open
and verify a package. Every lookup goes through the officer scope in the query."""

from __future__ import annotations

from flask import redirect, render_template, url_for

from referrals.core.acting import attempt
from referrals.core.forms import ConfirmForm
from referrals.core.guards import portal_blueprint
from referrals.core.identity import current_identity
from referrals.core.signing import get_signer
from referrals.packages import services as packages
from referrals.packages.bag import PACKAGE_NAMESPACE, SIGNER_PRINCIPAL
from referrals.packages.delivery import file_response, requested_range, text_file_response

bp = portal_blueprint("portal_packages", __name__, url_prefix="/portal")


@bp.get("/requests/<reference>/packages/<int:package_id>")
def download(reference: str, package_id: int):
    identity = current_identity()
    package = packages.get_package_for_officer(identity, reference, package_id)
    path = packages.start_download(identity, package, via="portal",
                                   byte_range=requested_range(package))
    return file_response(package, path)


@bp.get("/requests/<reference>/packages/<int:package_id>/<any(sha256, sig):which>")
def checksum(reference: str, package_id: int, which: str):
    """The package's .sha256 (or its .sig): not counted as a download."""
    package = packages.get_package_for_officer(current_identity(), reference, package_id)
    return text_file_response(*packages.checksum_file(package, which))


@bp.post("/requests/<reference>/packages/<int:package_id>/key")
def key(reference: str, package_id: int):
    identity = current_identity()
    package = packages.get_package_for_officer(identity, reference, package_id)
    back = url_for("portal.detail", reference=package.request.reference) + "#packages"
    if not ConfirmForm().validate_on_submit():
        return redirect(back)
    outcome = attempt(packages.reveal_one_time_key, identity, package)
    if not outcome.ok:
        return redirect(back)
    return render_template("packages/key.html", package=package, secret=outcome.value,
                           back=back, portal=True)


@bp.get("/packages/help")
def help_page():
    signer = get_signer()
    return render_template("packages/help.html", fingerprint=signer.fingerprint,
                           public_key=signer.public_key_openssh,
                           allowed_signers=signer.allowed_signers(SIGNER_PRINCIPAL),
                           namespace=PACKAGE_NAMESPACE, principal=SIGNER_PRINCIPAL)


def portal_panel(req) -> dict:
    identity = current_identity()
    return {"packages": packages.officer_packages(identity, req.reference),
            "availability": packages.availability, "downloads_left": packages.downloads_left,
            "confirm": ConfirmForm()}


def register_panels(app) -> None:
    app.add_template_global(portal_panel, "package_portal_panel")
