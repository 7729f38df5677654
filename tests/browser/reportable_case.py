"""Opens a grooming case (a hash match, made-up accounts) with two files uploaded by the demo
agent, one of which the demo supervisor has viewed, on a live server's database, and prints
its reference: ``python -m tests.browser.reportable_case`` with the server's environment."""

from __future__ import annotations

from referrals import create_app
from referrals.accounts.services import find_user_by_email
from referrals.core.transaction import unit_of_work
from tests.browser.collecting_request import AGENT, SUPERVISOR
from tests.ncmec.conftest import add_file, grooming_case


def main() -> None:
    app = create_app()
    with app.app_context(), unit_of_work():
        agent, supervisor = find_user_by_email(AGENT), find_user_by_email(SUPERVISOR)
        case = grooming_case()
        add_file(agent, case, "walk-seen.png", seed=41, viewed_by=supervisor)
        add_file(agent, case, "walk-unseen.png", seed=42)
        reference = case.reference
    print(reference)


if __name__ == "__main__":
    main()
