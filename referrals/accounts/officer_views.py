"""Approving the officers who registered on the portal. The list of those waiting sits on
the agency registry page, which accounts adds a panel to (agencies sit below accounts)."""

from __future__ import annotations

from flask import redirect, url_for

from referrals.accounts.registration import approve_officer, officer_signals, pending_officers
from referrals.accounts.standing import lift_suspension, suspended_officers
from referrals.accounts.services import get_user
from referrals.agencies.staff_views import MANAGERS, add_index_panel
from referrals.core.acting import act
from referrals.core.forms import ConfirmForm
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import current_identity

bp = staff_blueprint("officers", __name__, url_prefix="/agencies/officers")


@add_index_panel
def pending_panel() -> dict:
    pending = pending_officers()
    return {"pending": pending, "officer_signals": officer_signals(pending),
            "suspended_officers": suspended_officers()}


@bp.post("/<int:user_id>/approve")
@roles_required(*MANAGERS)
def approve(user_id: int):
    user = get_user(user_id)
    act(ConfirmForm(), approve_officer, current_identity(), user, done=f"{user.email} approved.")
    return redirect(url_for("agencies.index"))


@bp.post("/<int:user_id>/lift-suspension")
@roles_required(*MANAGERS)
def lift(user_id: int):
    user = get_user(user_id)
    act(ConfirmForm(), lift_suspension, current_identity(), user,
        done=f"{user.email} may sign in again.")
    return redirect(url_for("agencies.index"))
