"""A job for the worker crash test: it says it started, then waits for a gate file before
doing its work (an audit event), so the test can kill the worker in between."""

from __future__ import annotations

import time
from pathlib import Path

from referrals.audit.services import record_event
from referrals.core.identity import system_identity
from referrals.extensions import jobs


@jobs.task()
def gated_heartbeat(note: str, gate: str) -> str:
    Path(f"{gate}.started").write_text(note)
    deadline = time.monotonic() + 60
    while not Path(gate).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the gate never opened")
        time.sleep(0.05)
    record_event(system_identity("job:gated"), "jobs.heartbeat", after={"note": note})
    return note
