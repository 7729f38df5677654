"""Staff pages for packages: releasing a production (which builds its package), a build's
progress, re-issuing, a case's package for a referral, and downloading one for hand
delivery. The request and case pages show their packages (``request_panel``/``case_panel``,
template globals this feature registers)."""

from __future__ import annotations

from flask import jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from referrals.cases.services import get_case
from referrals.core.acting import act, attempt
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import READERS, WORKERS, current_identity
from referrals.core.progress import STATES as PROGRESS_STATES
from referrals.core.progress import progress_json
from referrals.packages import services as packages
from referrals.packages.delivery import file_response
from referrals.packages.forms import CasePackageForm, LimitsForm
from referrals.requests import services as requests

bp = staff_blueprint("packages", __name__)


def _request_page(reference: str):
    return url_for("requests.detail", reference=reference) + "#packages"


@bp.post("/requests/<reference>/disclose")
@roles_required("supervisor")
def release(reference: str):
    """Release the production: the disclosure is recorded and its package built."""
    identity = current_identity()
    found = requests.get_request_for_staff(identity, reference)
    form = LimitsForm()
    act(form, packages.release_production, identity, found,
        expiry_days=form.expiry_days.data, download_limit=form.download_limit.data,
        done="Disclosure recorded. The package is being built: this section shows how far it "
             "got; the agency is told when it is ready.")
    return redirect(_request_page(found.reference))


@bp.get("/packages/<int:package_id>/progress")
@roles_required(*READERS)
def progress(package_id: int):
    package = packages.get_package_for_staff(current_identity(), package_id)
    return jsonify(progress_json(packages.progress_of(package)))


def _owner_page(package) -> str:
    if package.request is not None:
        return _request_page(package.request.reference)
    return url_for("cases.detail", reference=package.case.reference) + "#packages"


@bp.post("/packages/<int:package_id>/reissue")
@roles_required(*WORKERS)
def reissue(package_id: int):
    identity = current_identity()
    package = packages.get_package_for_staff(identity, package_id)
    form = LimitsForm()
    act(form, packages.reissue_package, identity, package, expiry_days=form.expiry_days.data,
        download_limit=form.download_limit.data,
        done="Re-issued: a new package is being built; the old one can no longer be downloaded.")
    return redirect(_owner_page(package))


@bp.get("/packages/<int:package_id>/download")
@roles_required(*WORKERS)
def download(package_id: int):
    """A case's package, for hand delivery (a production is the agency's to download)."""
    identity = current_identity()
    package = packages.get_package_for_staff(identity, package_id)
    path = packages.staff_download(identity, package)
    return file_response(package, path)


@bp.post("/packages/<int:package_id>/key")
@roles_required(*WORKERS)
def key(package_id: int):
    """A case package's one-time key, shown once to the member of staff who asks."""
    identity = current_identity()
    package = packages.get_package_for_staff(identity, package_id)
    outcome = attempt(packages.reveal_staff_key, identity, package)
    if not outcome.ok:
        return redirect(_owner_page(package))
    return render_template("packages/key.html", package=package, secret=outcome.value,
                           back=_owner_page(package), portal=False)


@bp.post("/cases/<reference>/packages")
@roles_required(*WORKERS)
def build_for_case(reference: str):
    identity = current_identity()
    case = get_case(reference)
    form = CasePackageForm()
    act(form, packages.build_case_package, identity, case, form.recipient.data or "",
        expiry_days=form.expiry_days.data,
        done="The package is being built: this section shows how far it got.")
    return redirect(url_for("cases.detail", reference=case.reference) + "#packages")


# --- what the request and case pages show (template globals) -------------------------------


def request_panel(req) -> dict:
    identity = current_identity()
    return {"packages": packages.packages_for_request(req), "progress": packages.progress_of,
            "availability": packages.availability, "progress_labels": PROGRESS_STATES,
            "form": LimitsForm(), "may_reissue": identity.has_role("agent", "supervisor"),
            "agency_keys": packages.agency_recipients(req.agency)}


def case_panel(case) -> dict:
    identity = current_identity()
    return {"packages": packages.packages_for_case(case), "progress": packages.progress_of,
            "availability": packages.availability, "progress_labels": PROGRESS_STATES,
            "form": CasePackageForm(),
            "may_build": current_user.is_authenticated and identity.has_role("agent", "supervisor")}


def register_panels(app) -> None:
    app.add_template_global(request_panel, "package_request_panel")
    app.add_template_global(case_panel, "package_case_panel")
