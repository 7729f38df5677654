"""The daily retention run on the job worker."""

from __future__ import annotations

from huey import crontab

from referrals.core.identity import system_identity
from referrals.extensions import jobs
from referrals.retention.orphans import remove_orphans
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
