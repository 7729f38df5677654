"""Moves the progress of a request's package build half-way, as a worker streaming its files
would, on a live server's database: ``python -m tests.browser.package_progress REFERENCE``
with the server's environment."""

from __future__ import annotations

import sys

from sqlalchemy import select

from referrals import create_app
from referrals.core.progress import report_progress
from referrals.core.transaction import unit_of_work
from referrals.extensions import db
from referrals.packages.bag import BagProgress
from referrals.packages.models import EvidencePackage
from referrals.requests.models import DisclosureRequest

MIB = 1024 * 1024


def main(reference: str) -> None:
    app = create_app()
    with app.app_context(), unit_of_work():
        package = db.session.scalar(
            select(EvidencePackage).join(DisclosureRequest,
                                         EvidencePackage.request_id == DisclosureRequest.id)
            .where(DisclosureRequest.reference == reference)
            .order_by(EvidencePackage.id.desc()))
        bag = BagProgress(files=2, total_bytes=5 * MIB, file_number=1,
                          file_name="synthetic-chat-export.json", done_bytes=5 * MIB // 2)
        report_progress(package.progress_id, state="running", done=bag.done_bytes // 1024,
                        total=bag.total_bytes // 1024, message=bag.text(), commit_now=False)


if __name__ == "__main__":
    main(sys.argv[1])
