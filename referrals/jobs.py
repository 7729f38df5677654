"""Every background task, imported in one place so the worker knows them all."""

from referrals.audit.jobs import write_checkpoint_job  # noqa: F401
from referrals.core.heartbeat import record_heartbeat  # noqa: F401
from referrals.core.mail import post_webhook_job, send_mail_job  # noqa: F401
from referrals.holds.reminders import sweep_holds  # noqa: F401
from referrals.holds.snapshot import snapshot_hold  # noqa: F401
from referrals.retention.jobs import purge_retention_job, remove_orphan_files_job  # noqa: F401
