"""Submits a request from the demo officer on a live server's database and prints its
reference: ``python -m tests.browser.staff_work_request`` with the server's environment."""

from __future__ import annotations

from referrals import create_app
from referrals.accounts.services import find_user_by_email
from referrals.core.transaction import unit_of_work
from tests.requests.helpers import submit

# The officer that `flask demo seed` makes (the live server seeds it).
OFFICER = "det.rivera@metrocity-pd.example"


def main() -> None:
    app = create_app()
    with app.app_context(), unit_of_work():
        officer = find_user_by_email(OFFICER)
        request = submit(officer, official_email=OFFICER, request_type="search_warrant",
                         targets=[{"kind": "username", "value": "@walk_staff_work"}])
        reference = request.reference
    print(reference)


if __name__ == "__main__":
    main()
