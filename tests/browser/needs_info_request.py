"""Puts a search warrant of the demo officer into "needs information" on a live server's
database and prints its reference: ``python -m tests.browser.needs_info_request`` with the
server's environment. (How staff ask is walked elsewhere; this is about the officer's answer.)"""

from __future__ import annotations

from referrals import create_app
from referrals.accounts.services import find_user_by_email
from referrals.core.transaction import unit_of_work
from tests.browser.collecting_request import AGENT, OFFICER
from tests.requests.helpers import move, submit

ASKED = "Page 2 of the made-up warrant is missing: send it, please."


def main() -> None:
    app = create_app()
    with app.app_context(), unit_of_work():
        officer = find_user_by_email(OFFICER)
        request = submit(officer, request_type="search_warrant", official_email=OFFICER,
                         targets=[{"kind": "username", "value": "@walk_needs_info"}])
        move(find_user_by_email(AGENT), request, "verifying")
        move(find_user_by_email(AGENT), request, "needs_info", reason=ASKED)
        reference = request.reference
    print(reference)


if __name__ == "__main__":
    main()
