"""Run by test_crash as a separate process (which the test SIGKILLs at random moments).

``setup``: a database with a case holding large and small synthetic evidence; prints the
case reference and the agent's id. ``build CASE USER RECIPIENT``: start a package of the case
(committed), print "building", then run its job as the worker would ("writing" when the
job starts writing the file)."""

from __future__ import annotations

import io
import os
import sys
import time
from dataclasses import replace

from flask_migrate import upgrade

from referrals import create_app
from referrals.accounts.models import User
from referrals.cases.services import get_case
from referrals.core import outbox
from referrals.core.identity import Identity
from referrals.core.progress import JobProgress
from referrals.core.transaction import unit_of_work
from referrals.evidence.services import add_evidence
from referrals.extensions import db
from referrals.packages import services
from referrals.packages.services import build_case_package

_build_package = services.build_package
WRITING_PAUSE = 0.5  # seconds; the test kills within it
ANNOUNCED: list[bool] = []


def _announced(contents, *args, **kwargs):
    """The real builder, saying "writing" once the package file exists and its first bytes
    are on the way, then pausing there (as a slow disk would), so that a kill the test sends
    in that window lands while the file is being written, whatever the machine's load."""
    files = [replace(item, chunks=_paused_after_first(item.chunks)) for item in contents.files]
    return _build_package(replace(contents, files=files), *args, **kwargs)


def _paused_after_first(chunks):
    def paused():
        for chunk in chunks():
            yield chunk
            if not ANNOUNCED:  # once per build, after the package's first bytes
                ANNOUNCED.append(True)
                print("writing", flush=True)
                time.sleep(WRITING_PAUSE)
    return paused


services.build_package = _announced


def setup() -> None:
    from tests import factories
    from tests.cases.helpers import open_case

    upgrade()
    with unit_of_work():
        agent = factories.make_user("agent")
        case = open_case(agent, title="Synthetic crash case")
        for n, size in enumerate((12 * 1024 * 1024, 65536, 1)):
            add_evidence(Identity.for_user(agent), case, io.BytesIO(os.urandom(size)),
                         original_name=f"synthetic-{n}.bin")
        reference, user_id = case.reference, agent.id
    print(reference, user_id, flush=True)


def build(reference: str, user_id: str, recipient: str) -> None:
    with unit_of_work():
        actor = Identity.for_user(db.session.get(User, int(user_id)))
        package = build_case_package(actor, get_case(reference), recipient)
        progress_id = package.progress_id
    entry_id = db.session.get(JobProgress, progress_id).outbox_entry_id
    print("building", flush=True)
    outbox.deliver(entry_id)
    print("built", flush=True)


if __name__ == "__main__":
    app = create_app()
    with app.app_context():
        if sys.argv[1] == "setup":
            setup()
        else:
            build(*sys.argv[2:5])
