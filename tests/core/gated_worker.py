"""The worker with the test's gated job too: ``huey_consumer tests.core.gated_worker.huey``."""

import tests.core.gated_jobs  # noqa: F401  (declares the job before the app binds it)
from referrals.worker import app, huey  # noqa: F401
