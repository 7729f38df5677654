"""Every background task, imported in one place so the worker knows them all."""

from referrals.accounts.jobs import sweep_officer_standing_job  # noqa: F401

from referrals.audit.checkpoints import post_checkpoint  # noqa: F401
from referrals.audit.alerts import post_alert  # noqa: F401
from referrals.audit.jobs import write_checkpoint_job  # noqa: F401
from referrals.audit.verification import verify_chain_job, verify_chain_nightly, watch_checkpoints  # noqa: F401
from referrals.audit.heartbeat import record_heartbeat  # noqa: F401
from referrals.core.mail import send_mail_job  # noqa: F401
from referrals.core.outbox import deliver, sweep_outbox, sweep_when_a_worker_starts  # noqa: F401
from referrals.holds.reminders import sweep_holds  # noqa: F401
from referrals.holds.snapshot import snapshot_hold  # noqa: F401
from referrals.ncmec.lifecycle import RETRACT, SEND  # noqa: F401
from referrals.remote.operations import advance_operation  # noqa: F401
from referrals.remote.webhooks import WEBHOOK  # noqa: F401
from referrals.requests.collection import collect_request_job  # noqa: F401
from referrals.retention.jobs import purge_retention_job, remove_orphan_files_job  # noqa: F401
from referrals.packages.services import build_package_job, remove_partial_packages_at_start, sweep_packages  # noqa: F401
from referrals.operations.housekeeping import prune_records_job  # noqa: F401
