"""The supervisor and compliance dashboard page (``dashboard.oversight``)."""

from __future__ import annotations

from flask import render_template

from referrals.core.charts import Series, bar_chart
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import current_identity
from referrals.dashboard.oversight import GROUPS, HOLD_HORIZON_DAYS, oversight
from referrals.requests.rules import REQUEST_TYPES

bp = staff_blueprint("oversight", __name__, url_prefix="/dashboard")


@bp.get("/oversight")
@roles_required("supervisor", "compliance")
def index():
    view = oversight(current_identity())
    chart = bar_chart("chart-requests-by-month", "Requests received by month and kind",
                      [m.label for m in view.months],
                      [Series(label, [m.group(name) for m in view.months])
                       for name, label in GROUPS.items()])
    kinds = [k for k in REQUEST_TYPES if any(m.by_type.get(k) for m in view.months)]
    return render_template("dashboard/oversight.html", view=view, chart=chart, kinds=kinds,
                           types=REQUEST_TYPES, horizon=HOLD_HORIZON_DAYS)
