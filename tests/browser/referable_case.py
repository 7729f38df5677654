"""Opens a case with a made-up suspect and one stored file (uploaded by the demo agent, who
drafts the referral; the supervisor approves and sends it) on a live server's database, with no
package key on the demo police force's file, and prints its reference:
``python -m tests.browser.referable_case`` with the server's environment."""

from __future__ import annotations

import io

from referrals import create_app
from referrals.accounts.services import find_user_by_email
from referrals.cases.services import add_identifier, add_subject, open_case
from referrals.core.identity import Identity
from referrals.core.transaction import unit_of_work
from referrals.evidence.services import add_evidence
from referrals.extensions import db
from tests.browser.collecting_request import AGENT, OFFICER


def main() -> None:
    app = create_app()
    with app.app_context(), unit_of_work():
        for key in list(find_user_by_email(OFFICER).agency.keys):
            db.session.delete(key)
        agent = Identity.for_user(find_user_by_email(AGENT))
        case = open_case(agent, title="Walk: threat to a made-up person", category="imminent_harm",
                         summary="A made-up account threatened a made-up person.")
        subject = add_subject(agent, case, label="made_up_walk_account", role="suspect")
        add_identifier(agent, subject, kind="email", value="made.up.walker@example.net")
        add_evidence(agent, case, io.BytesIO(b"synthetic chat log: a made-up threat\n"),
                     original_name="walk-chat-log.txt", data_category="content")
        reference = case.reference
    print(reference)


if __name__ == "__main__":
    main()
