"""A job that proves the worker runs: it writes a row the app (and tests) can read."""

from __future__ import annotations

from referrals.audit.services import record_event
from referrals.core.identity import system_identity
from referrals.extensions import jobs


@jobs.task()
def record_heartbeat(note: str) -> str:
    record_event(system_identity("job:heartbeat"), "jobs.heartbeat", after={"note": note})
    return note
