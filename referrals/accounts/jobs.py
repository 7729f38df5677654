"""The daily officer-standing sweep on the job worker."""

from __future__ import annotations

from huey import crontab

from referrals.accounts.standing import sweep_officer_standing
from referrals.core.identity import system_identity
from referrals.extensions import jobs


# Daily at 06:10 UTC: after a deployment's morning refresh of the .gov registry file, away
# from the hour marks other sweeps use.
@jobs.periodic_task(crontab(hour="6", minute="10"))
def sweep_officer_standing_job() -> dict:
    """Re-confirmations due, and officers whose domain left the registry; commits once."""
    return sweep_officer_standing(system_identity("job:officer standing"))
