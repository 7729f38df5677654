"""Helpers for the officer scope tests: comparing an answer about someone else's reference
with the answer about a reference that does not exist."""

from __future__ import annotations

from tests.requests.helpers import normalized

MISSING_REQUEST = "REQ-2026-999999"
MISSING_HOLD = "HOLD-2026-999999"


def same_answer(theirs: str, their_reference: str, unknown: str, missing: str) -> bool:
    """The two bodies are the same but for the reference each names (and the CSRF token)."""
    return (normalized(theirs).replace(their_reference, "REF")
            == normalized(unknown).replace(missing, "REF"))
