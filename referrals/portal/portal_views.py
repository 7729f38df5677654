from flask import render_template
from flask_login import current_user

from referrals.core.guards import portal_blueprint

bp = portal_blueprint("portal", __name__, url_prefix="/portal")


@bp.get("/")
def index():
    return render_template("portal/index.html", user=current_user, agency=current_user.agency)
