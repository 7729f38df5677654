"""The worker for the NCMEC crash test: ``huey_consumer tests.ncmec.gated_worker.huey``.

Before it marks a CyberTipline report's *finish* step as started, it says so (a file) and
waits for a gate file: the test kills it there, after every upload and file detail is
recorded and before finish is called."""

import os
import time
from pathlib import Path

from referrals.remote import operations
from referrals.worker import app, huey  # noqa: F401

GATE = os.environ["NCMEC_TEST_GATE"]
_real_event = operations._event


def _gated_event(kind, action, operation, step=None, **after):
    if action == "remote.step_started" and step is not None and step.name == "finish" \
            and not Path(GATE).exists():
        Path(f"{GATE}.started").write_text(str(operation.id))
        deadline = time.monotonic() + 60
        while not Path(GATE).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    return _real_event(kind, action, operation, step, **after)


operations._event = _gated_event
