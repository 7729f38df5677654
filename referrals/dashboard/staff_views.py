from flask import current_app, jsonify, render_template
from flask_login import current_user

from referrals.core.deadlines import RULES, value_text
from referrals.core.guards import staff_blueprint
from referrals.core.identity import current_identity
from referrals.dashboard.work import urgent_work
from referrals.disclosures.qa import open_findings_count
from referrals.holds.reports import expiring_holds

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
    findings = None
    if set(current_user.role_names) & {"supervisor", "compliance"}:
        findings = open_findings_count()
    return render_template("dashboard/index.html", user=current_user, work=work,
                           expiring_holds=expiring, hold_horizon=HOLD_HORIZON_DAYS,
                           qa_findings_open=findings,
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


COUNTING_WORDS = {
    "elapsed": "Elapsed time from the event",
    "calendar": "Calendar days or years, same wall-clock time, in the receiving entity's zone",
    "eu_days": "Reg. 1182/71 art. 3: day of the event not counted, ends at the end of the last "
               "day; a last day on a weekend or Irish public holiday moves to the next working "
               "day (art. 3(4))",
    "eu_hours": "Reg. 1182/71 art. 3(1) and 3(2)(a): from the next full hour, weekends included",
    "uk_days": "Days beginning with the day of service, to the end of the last day (London)",
    "end_of_day": "The end of the date, in the receiving entity's zone",
    "mark": "A length compared against, not a period",
}


@bp.get("/deadline-rules")
def deadline_rules():
    """Every deadline rule the product applies, with its source and its value now."""
    settings = current_app.config["REFERRALS_SETTINGS"]
    rows = [{"rule": rule, "value": value_text(rule, settings),
             "counting": COUNTING_WORDS[rule.counting]} for rule in RULES.values()]
    return render_template("dashboard/deadline_rules.html", rows=rows)
