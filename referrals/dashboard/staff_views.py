from flask import render_template
from flask_login import current_user

from referrals.holds.reports import expiring_holds
from referrals.core.guards import staff_blueprint
from referrals.core.identity import current_identity

bp = staff_blueprint("dashboard", __name__)
HOLD_HORIZON_DAYS = 14


@bp.get("/dashboard")
def index():
    expiring = None
    if set(current_user.role_names) & {"agent", "supervisor", "compliance"}:
        expiring = len(expiring_holds(current_identity(), HOLD_HORIZON_DAYS))
    return render_template("dashboard/index.html", user=current_user, expiring_holds=expiring,
                           hold_horizon=HOLD_HORIZON_DAYS)
