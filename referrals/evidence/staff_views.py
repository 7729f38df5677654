"""Evidence pages: upload, the item with its custody log, and its bytes (cleared staff)."""

from __future__ import annotations

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from urllib.parse import quote

from referrals.audit.services import record_view
from referrals.cases import services as cases
from referrals.cases.forms import EvidenceForm
from referrals.core.forms import ReasonForm
from referrals.core.acting import act, attempt
from referrals.core.guards import roles_required, staff_blueprint
from referrals.cases.models import Case
from referrals.cases.staff_views import add_case_panel
from referrals.core.identity import Identity, current_identity
from referrals.evidence import sensitive, services
from referrals.evidence.models import SensitiveMedia
from referrals.evidence.policies import evidence_policy
from referrals.extensions import db

bp = staff_blueprint("evidence", __name__, url_prefix="/cases")


@add_case_panel
def case_evidence_panel(identity: Identity, case: Case) -> dict:
    return {"evidence": services.items_for_case(case)}


def content_disposition(disposition: str, name: str) -> str:
    """An ASCII fallback and the UTF-8 name (RFC 6266 / 5987); no quotes or newlines pass."""
    fallback = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


def bytes_response(item, chunks, *, mimetype: str = "application/octet-stream",
                   disposition: str = "attachment") -> Response:
    """Evidence bytes as a response: streamed, sandboxed if opened, never cached."""
    response = Response(chunks, mimetype=mimetype, direct_passthrough=True)
    response.headers["Content-Length"] = str(item.size)
    response.headers["Content-Disposition"] = content_disposition(disposition, item.original_name)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<reference>/evidence")
@roles_required("agent", "supervisor")
def upload(reference: str):
    # Large files: the form parser spools them to a temporary file, never to memory.
    request.max_content_length = current_app.config["REFERRALS_SETTINGS"].evidence_max_bytes + 1024 * 1024
    case = cases.get_case(reference)
    form = EvidenceForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(url_for("cases.detail", reference=case.reference) + "#evidence")
    upload = form.file.data
    stored = attempt(services.add_evidence, current_identity(), case, upload.stream,
                     original_name=upload.filename, may_be_csam=form.may_be_csam.data,
                     data_category=form.data_category.data,
                     description=form.description.data or "")
    if not stored.ok:
        return redirect(url_for("cases.detail", reference=case.reference) + "#evidence")
    item = stored.value
    flash(f"{item.original_name} stored (SHA-256 {item.sha256}).", "success")
    return redirect(url_for(".item", reference=case.reference, item_id=item.id))


@bp.get("/<reference>/evidence/<int:item_id>")
@roles_required("agent", "supervisor", "compliance")
def item(reference: str, item_id: int):
    identity = current_identity()
    case = cases.get_case(reference)
    evidence = services.get_item(case, item_id)
    evidence_policy.require(identity, "view_metadata", evidence)
    page = render_template("evidence/item.html", case=case, item=evidence,
                           may_open=evidence_policy.can(identity, "read_bytes", evidence),
                           flag=db.session.get(SensitiveMedia, evidence.sha256),
                           same_bytes=sensitive.items_with_bytes(evidence.sha256),
                           may_flag=sensitive.sensitive_policy.can(identity, "flag"),
                           may_unflag=sensitive.sensitive_policy.can(identity, "unflag"),
                           reason_form=ReasonForm())
    # "evidence.viewed" is the bytes being opened (a custody event too); this is the page.
    record_view(identity, "evidence", evidence.id, action="evidence.page_viewed")  # last
    return page


@bp.get("/<reference>/evidence/<int:item_id>/content")
@roles_required("agent", "supervisor", "compliance")
def content(reference: str, item_id: int):
    case = cases.get_case(reference)
    evidence = services.get_item(case, item_id)
    download = request.args.get("download") == "1"
    purpose = (request.args.get("purpose") or "").strip()[:500] or (
        "Downloaded from the case page" if download else "Viewed on the evidence page")
    chunks = services.open_content(current_identity(), evidence,
                                   action="downloaded" if download else "viewed", purpose=purpose)
    disposition = "attachment" if download else "inline"
    # Inline only for media the browser shows; anything else is a download, never rendered.
    mime = evidence.mime_type if evidence.kind in ("image", "video", "audio") or download \
        else "application/octet-stream"
    return bytes_response(evidence, chunks, mimetype=mime, disposition=disposition)


def _flag_action(reference: str, item_id: int, service, done):
    identity = current_identity()
    case = cases.get_case(reference)
    evidence = services.get_item(case, item_id)
    form = ReasonForm()
    act(form, service, identity, evidence, form.reason.data, done=done)
    return redirect(url_for(".item", reference=case.reference, item_id=evidence.id))


@bp.post("/<reference>/evidence/<int:item_id>/flag")
@roles_required("agent", "supervisor")
def flag(reference: str, item_id: int):
    """These bytes may be abuse material: hidden from uncleared staff wherever they are."""
    return _flag_action(reference, item_id, sensitive.flag_media,
                        lambda count: f"Flagged: the {count} item(s) with these bytes, on every "
                                      "case, are now shown only to cleared staff.")


@bp.post("/<reference>/evidence/<int:item_id>/unflag")
@roles_required("supervisor")
def unflag(reference: str, item_id: int):
    """A cleared supervisor's decision that these bytes are not abuse material."""
    return _flag_action(reference, item_id, sensitive.unflag_media,
                        lambda count: f"Flag removed from the {count} item(s) with these bytes.")
