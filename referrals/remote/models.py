"""A remote operation and its steps, with every remote id, outcome and error kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.core.types import UTCDateTime
from referrals.extensions import db

# pending: not started; running: a runner holds it (``lease_until``); waiting: a step failed
# in a way that surely did not happen remotely, tried again at ``next_try_at``; done;
# failed: the remote refused, or too many attempts; needs_check: a step may have happened
# remotely and nothing can tell: a person checks with the remote before anything repeats it.
OPERATION_STATES = ("pending", "running", "waiting", "done", "failed", "needs_check")
# started: the call was (being) made and no outcome is recorded yet; unknown: it was made and
# the answer was lost (a timeout, a crash), so it may have happened.
STEP_STATES = ("pending", "started", "done", "failed", "unknown")


class RemoteOperation(db.Model):
    __tablename__ = "remote_operations"
    __table_args__ = (Index("ix_remote_operations_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200), unique=True)  # one operation per key
    state: Mapped[str] = mapped_column(String(12), default="pending")
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)  # what the steps need to know
    remote_ids: Mapped[dict] = mapped_column(JSON, default=dict)  # what the remote gave back
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # runs that started a step
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    runner: Mapped[str] = mapped_column(String(32), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    steps: Mapped[list[RemoteStep]] = relationship(
        back_populates="operation", order_by="RemoteStep.position")


class RemoteStep(db.Model):
    __tablename__ = "remote_steps"
    __table_args__ = (UniqueConstraint("operation_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("remote_operations.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(40))
    arguments: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    # Sent with the call where the remote deduplicates on it; the same on every attempt.
    idempotency_key: Mapped[str] = mapped_column(String(200))
    remote_request_id: Mapped[str | None] = mapped_column(String(120))
    outcome: Mapped[dict | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    operation: Mapped[RemoteOperation] = relationship(back_populates="steps")
