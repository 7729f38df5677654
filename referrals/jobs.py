"""Every background task, imported in one place so the worker knows them all."""

from referrals.core.heartbeat import record_heartbeat  # noqa: F401
