from flask import current_app, jsonify, render_template
from flask_login import current_user

from referrals.holds.reports import expiring_holds
from referrals.core.guards import staff_blueprint
from referrals.core.identity import current_identity
from referrals.dashboard.work import urgent_work

bp = staff_blueprint("dashboard", __name__)
HOLD_HORIZON_DAYS = 14


@bp.get("/dashboard")
def index():
    identity = current_identity()
    settings = current_app.config["REFERRALS_SETTINGS"]
    work = urgent_work(identity)
    expiring = None
    if set(current_user.role_names) & {"agent", "supervisor", "compliance"}:
        expiring = len(expiring_holds(identity, HOLD_HORIZON_DAYS))
    return render_template("dashboard/index.html", user=current_user, work=work,
                           expiring_holds=expiring, hold_horizon=HOLD_HORIZON_DAYS,
                           refresh_ms=1000 * settings.dashboard_refresh_seconds)


@bp.get("/dashboard/work.json")
def work_json():
    """The home's live part: the data, and the same HTML the page shows, for work.js."""
    work = urgent_work(current_identity())
    body = work.as_json()
    body["html"] = render_template("dashboard/_work.html", work=work)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
