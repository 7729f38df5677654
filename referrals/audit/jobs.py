"""The scheduled audit checkpoint on the job worker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from referrals.audit.checkpoints import write_checkpoint
from referrals.core.identity import system_identity
from referrals.extensions import jobs


def every_minutes(settings) -> Callable[[datetime], bool]:
    """Due when the minute of the day (UTC) is a multiple of the setting: with 60, on the
    hour; the setting divides a day, so the times are the same every day."""
    interval = settings.audit_checkpoint_minutes
    return lambda moment: (moment.hour * 60 + moment.minute) % interval == 0


@jobs.periodic_task(every_minutes, from_settings=True)
def write_checkpoint_job() -> dict:
    """Sign the chain's head and write it outside the database (REFERRALS_AUDIT_CHECKPOINT_*)."""
    written = write_checkpoint(system_identity("job:audit checkpoint"))
    return {"seq": written.checkpoint.seq, "file": written.checkpoint.name,
            "webhook": bool(written.webhook)}
