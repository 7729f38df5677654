"""Staff reports on holds: what expires soon (page and CSV), and the confirmation letter."""

from __future__ import annotations

from flask import Response, current_app, render_template, request

from referrals.core.clock import now
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import READERS, current_identity
from referrals.holds import reading, reports
from referrals.holds.letter import issue_preservation_letter

bp = staff_blueprint("hold_reports", __name__, url_prefix="/holds")


def pdf_response(pdf: bytes, filename: str) -> Response:
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/expiring")
@roles_required(*READERS)
def expiring():
    identity = current_identity()
    days = reports.parse_days(request.args.get("days"))
    at = now()
    return render_template("hold_reports/expiring.html", days=days, now=at,
                           rows=reports.expiring_holds(identity, days, at),
                           max_days=reports.MAX_DAYS,
                           has_detail="holds.detail" in current_app.view_functions)


@bp.get("/expiring.csv")
@roles_required(*READERS)
def expiring_csv():
    identity = current_identity()
    days = reports.parse_days(request.args.get("days"))
    at = now()
    text = reports.export_expiring_csv(identity, days, at)
    # With a byte-order mark, spreadsheet programs read the file as UTF-8 (agency names).
    response = Response(text.encode("utf-8-sig"), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="holds-expiring-{days}d-{at:%Y%m%d}.csv"')
    return response


@bp.get("/<reference>/letter.pdf")
@roles_required(*READERS)
def letter(reference: str):
    identity = current_identity()
    hold = reading.get_hold(identity, reference)
    pdf = issue_preservation_letter(identity, hold)
    return pdf_response(pdf, f"{hold.reference}-preservation-letter.pdf")
