"""The daily retention run on the job worker."""

from __future__ import annotations

import logging

from huey import crontab

from referrals.core.identity import system_identity
from referrals.core.transaction import unit_of_work
from referrals.extensions import jobs
from referrals.retention.orphans import remove_leftovers, remove_orphans

log = logging.getLogger(__name__)
from referrals.retention.services import purge_due


# Daily at 03:40 UTC: a quiet hour, and away from the hour marks other sweeps use.
@jobs.periodic_task(crontab(hour="3", minute="40"))
def purge_retention_job() -> dict:
    """Purge what the retention period has run out on; the job commits once at the end."""
    return purge_due(actor=system_identity("job:retention")).summary()


# Daily at 03:55 UTC, after the purge.
@jobs.periodic_task(crontab(hour="3", minute="55"))
def remove_orphan_files_job() -> dict:
    """Remove stored files that no row names, a day or more after they were written."""
    return remove_orphans(actor=system_identity("job:orphan files")).summary()


def remove_leftovers_at_start(app) -> None:
    """What a crash left in storage (files written for a transaction that never committed,
    unfinished writes) goes when the worker starts, not a day later. A failure is logged:
    the daily sweep tries again, and the worker must start all the same."""
    try:
        with app.app_context(), unit_of_work():
            report = remove_leftovers(actor=system_identity("worker start"))
    except Exception:
        log.exception("removing crash leftovers from storage at start failed")
        return
    if report.files or report.unfinished:
        log.info("removed %d file(s) and %d unfinished write(s) left by a crash",
                 report.files, report.unfinished)
