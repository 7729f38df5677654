"""The job worker's entry point: ``huey_consumer referrals.worker.huey``."""

from referrals import create_app
from referrals.extensions import jobs
from referrals.operations.storage_keys import check_master_keys_at_start
from referrals.retention.jobs import remove_leftovers_at_start

app = create_app()
huey = jobs.huey_for(app)
remove_leftovers_at_start(app)
check_master_keys_at_start(app)
