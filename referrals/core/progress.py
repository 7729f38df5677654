"""How far a long job got: one record per job (state, done of total, a message), stored in
the database so a page can poll it while the job runs in the worker.

The service that starts the work creates the record (``start_progress``) in the same
transaction as the outbox entry; the job moves it on with ``report_progress``, which commits
a short transaction of its own (and renews the job's lease on its outbox entry), so call it
only between the job's steps, with nothing else of the job's pending. Pages read it as JSON
(``progress_json``) through an endpoint of the feature that owns the object, and
``static/progress.js`` shows it on any element with ``data-progress-url``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from referrals.core import outbox
from referrals.core.clock import now
from referrals.core.transaction import commit
from referrals.core.types import UTCDateTime
from referrals.extensions import db

STATES = {"queued": "Waiting for a worker", "running": "Running", "done": "Finished",
          "failed": "Failed"}
FINISHED = ("done", "failed")


class JobProgress(db.Model):
    __tablename__ = "job_progress"
    __table_args__ = (Index("ix_job_progress_object", "object_type", "object_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # e.g. "request.collect"
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12), default="queued")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outbox_entry_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


def start_progress(kind: str, object_type: str, object_id: object, *, total: int = 0,
                   message: str = "", started_by_id: int | None = None) -> JobProgress:
    """A new record in the current transaction (the caller commits it with the work owed)."""
    at = now()
    progress = JobProgress(kind=kind, object_type=object_type, object_id=str(object_id),
                           state="queued", done=0, total=total, message=message,
                           started_by_id=started_by_id, created_at=at, updated_at=at)
    db.session.add(progress)
    db.session.flush()
    return progress


def latest_progress(kind: str, object_type: str, object_id: object) -> JobProgress | None:
    return db.session.scalar(
        select(JobProgress).where(JobProgress.kind == kind,
                                  JobProgress.object_type == object_type,
                                  JobProgress.object_id == str(object_id))
        .order_by(JobProgress.id.desc()).limit(1))


def report_progress(progress_id: int, *, state: str | None = None, done: int | None = None,
                    total: int | None = None, message: str | None = None,
                    commit_now: bool = True) -> None:
    """Move the record on and commit (unless ``commit_now`` is False: the caller's
    transaction then carries it, e.g. the job's last step)."""
    progress = db.session.get(JobProgress, progress_id)
    if progress is None:
        return
    at = now()
    if state is not None:
        if state not in STATES:
            raise ValueError(f"unknown progress state {state!r}")
        progress.state = state
        progress.finished_at = at if state in FINISHED else None
    if done is not None:
        progress.done = done
    if total is not None:
        progress.total = total
    if message is not None:
        progress.message = message
    progress.updated_at = at
    outbox.touch()
    if commit_now:
        commit()


def progress_json(progress: JobProgress | None) -> dict:
    """What a page shows: the state in words, done of total, the message."""
    if progress is None:
        return {"state": "none", "label": "Not started", "done": 0, "total": 0, "percent": 0,
                "message": "", "finished": True}
    percent = 0
    if progress.total:
        percent = min(100, round(100 * progress.done / progress.total))
    elif progress.state == "done":
        percent = 100
    return {"id": progress.id, "state": progress.state, "label": STATES[progress.state],
            "done": progress.done, "total": progress.total, "percent": percent,
            "message": progress.message, "finished": progress.finished,
            "updated_at": progress.updated_at.isoformat()}
