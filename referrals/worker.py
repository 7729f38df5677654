"""The job worker's entry point: ``huey_consumer referrals.worker.huey``."""

from referrals import create_app
from referrals.extensions import jobs
import referrals.jobs  # noqa: F401  (registers every task)

app = create_app()
huey = jobs.huey
