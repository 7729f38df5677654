from flask import render_template
from flask_login import current_user

from referrals.core.guards import staff_blueprint

bp = staff_blueprint("dashboard", __name__)


@bp.get("/dashboard")
def index():
    return render_template("dashboard/index.html", user=current_user)
