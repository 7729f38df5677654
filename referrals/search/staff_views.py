"""The one search box of the staff pages (every page's header), and the request page's
panel of the cases and holds that share an identifier with it."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for

from referrals.audit.services import record_view
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import READERS, current_identity
from referrals.search.services import linked_to_request, search

bp = staff_blueprint("search", __name__, url_prefix="/search")


@bp.get("/")
@roles_required(*READERS)
def index():
    identity = current_identity()
    result = search(identity, request.args.get("q", ""),
                    region=current_app.config["REFERRALS_PHONE_REGION"])
    if result.reference and result.count == 1:  # a reference names one thing: go there
        found = (result.cases + result.requests + result.holds + result.referrals)[0]
        return redirect(_link(found))
    page = render_template("search/results.html", result=result, link=_link)
    if result.query:
        # Who looked for whom is itself sensitive: the search is on the audit log (last).
        record_view(identity, "search", result.query[:60], action="search.performed")
    return page


def _link(found) -> str:
    reference = found.reference
    if reference.startswith("CASE-"):
        return url_for("cases.detail", reference=reference)
    if reference.startswith("REQ-"):
        return url_for("requests.detail", reference=reference)
    if reference.startswith("HOLD-"):
        return url_for("holds.detail", reference=reference)
    return url_for("outbound.detail", referral_id=found.id)


def request_links(req) -> dict:
    links = linked_to_request(current_identity(), req)
    return {"cases": links.cases, "holds": links.holds}


def register_panels(app) -> None:
    app.add_template_global(request_links, "request_links")
