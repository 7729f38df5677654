"""Puts a request of the demo officer into "collecting" on a live server's database and prints
its reference: ``python -m tests.browser.collecting_request`` with the server's environment.
(The steps before collecting are walked by other tests; this one is about what comes after.)"""

from __future__ import annotations

from referrals import create_app
from referrals.accounts.services import find_user_by_email
from referrals.core.transaction import unit_of_work
from referrals.requests import services
from tests.requests.helpers import as_identity, decide_all, move, submit

# Accounts that `flask demo seed` makes (the live server seeds them).
OFFICER = "det.rivera@metrocity-pd.example"
AGENT, SUPERVISOR = "agent@referrals.example", "supervisor@referrals.example"


def main() -> None:
    app = create_app()
    with app.app_context(), unit_of_work():
        officer = find_user_by_email(OFFICER)
        agent = find_user_by_email(AGENT)
        supervisor = find_user_by_email(SUPERVISOR)
        request = submit(officer, official_email=OFFICER,
                         data_categories=["subscriber", "login_logout", "content"],
                         targets=[{"kind": "username", "value": "@walk_collect_one"},
                                  {"kind": "username", "value": "@walk_collect_two"}])
        move(agent, request, "verifying", "legal_review")
        decide_all(agent, request)
        services.approve_request(as_identity(supervisor), request)
        move(agent, request, "collecting")
        reference = request.reference
    print(reference)


if __name__ == "__main__":
    main()
