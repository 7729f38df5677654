"""Puts a request of the demo officer into "ready for review" with its data collected (the
demo platform), on a live server's database, with no package key on the agency's file, and
prints its reference: ``python -m tests.browser.releasable_request`` with the server's
environment."""

from __future__ import annotations

from referrals import create_app
from referrals.accounts.services import find_user_by_email
from referrals.core.transaction import unit_of_work
from referrals.extensions import db
from referrals.requests import services
from referrals.requests.collection import collect_for_request
from tests.browser.collecting_request import AGENT, OFFICER, SUPERVISOR
from tests.requests.helpers import as_identity, decide_all, move, submit


def main() -> None:
    app = create_app()
    with app.app_context(), unit_of_work():
        officer = find_user_by_email(OFFICER)
        agent = find_user_by_email(AGENT)
        supervisor = find_user_by_email(SUPERVISOR)
        for key in list(officer.agency.keys):
            db.session.delete(key)
        request = submit(officer, official_email=OFFICER, data_categories=["subscriber", "content"],
                         targets=[{"kind": "username", "value": "@walk_package_one"}])
        move(agent, request, "verifying", "legal_review")
        decide_all(agent, request)
        services.approve_request(as_identity(supervisor), request)
        move(agent, request, "collecting")
        collect_for_request(as_identity(agent), request)
        move(agent, request, "ready_for_review")
        reference = request.reference
    print(reference)


if __name__ == "__main__":
    main()
