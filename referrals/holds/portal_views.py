"""What an agency sees of the holds placed on its requests: the confirmation letter."""

from __future__ import annotations

from referrals.core.guards import portal_blueprint
from referrals.core.identity import current_identity
from referrals.holds.reading import get_hold_for_officer
from referrals.holds.letter import issue_preservation_letter
from referrals.holds.report_views import pdf_response

bp = portal_blueprint("portal_holds", __name__, url_prefix="/portal/holds")


@bp.get("/<reference>/letter.pdf")
def letter(reference: str):
    identity = current_identity()
    # A hold outside the officer scope is "not found", like a made-up reference.
    hold = get_hold_for_officer(identity, reference)
    pdf = issue_preservation_letter(identity, hold)
    return pdf_response(pdf, f"{hold.reference}-preservation-letter.pdf")
