"""Housekeeping: the product's own bookkeeping rows do not grow for ever.

Three tables grow with use and record nothing the law or the audit asks to keep (the audit
chain holds every change they stand for):

- ``outbox``: one row per job owed to a committed change. A job that ran is kept
  ``outbox_keep_days`` after it finished (the operations page and a late duplicate of its key
  still see it), then goes. Failed and pending entries stay until someone deals with them.
- ``job_progress``: what a page shows while a job runs. A finished record goes
  ``progress_keep_days`` after it finished, unless it is the latest of its kind for its object
  (pages show the last collection or verification) or a row still names it (a package's
  build).
- ``sign_in_failures``: wrong passwords and codes. Kept ``sign_in_failure_keep_days`` (a year
  by default: the admin page shows an account's, and a security review may look back), far
  longer than the windows that count them.

The daily job deletes in batches, each its own short transaction with its own audit event
(which table, how many, the oldest kept time), so a large first run never holds the write
lock for long and no row goes unrecorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from huey import crontab
from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import aliased

from referrals.accounts.models import SignInFailure
from referrals.audit.services import record_event
from referrals.core.clock import now
from referrals.core.identity import Identity, system_identity
from referrals.core.outbox import OutboxEntry
from referrals.core.progress import FINISHED, JobProgress
from referrals.core.transaction import commit, unit_of_work
from referrals.extensions import db, jobs

BATCH = 5_000


@dataclass
class Pruned:
    outbox: int = 0
    progress: int = 0
    sign_in_failures: int = 0
    cutoffs: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict:
        return {"outbox": self.outbox, "progress": self.progress,
                "sign_in_failures": self.sign_in_failures, "cutoffs": self.cutoffs}


def _referencing_columns(table_name: str) -> list:
    """Every column of another table with a foreign key to ``table_name``'s rows: a row
    one of them names is never removed, whichever feature named it."""
    columns = []
    for table in db.metadata.tables.values():
        for key in table.foreign_keys:
            if key.column.table.name == table_name and table.name != table_name:
                columns.append(key.parent)
    return columns


def _not_named(id_column, table_name: str) -> list:
    return [~exists().where(column == id_column) for column in _referencing_columns(table_name)]


def _delete_in_batches(actor: Identity, model, conditions: list, cutoff: datetime) -> int:
    """Delete the rows matching ``conditions`` in batches of ``BATCH``: each batch is one
    transaction with its audit event."""
    removed = 0
    while True:
        ids = list(db.session.scalars(select(model.id).where(*conditions)
                                      .order_by(model.id).limit(BATCH)))
        if not ids:
            return removed
        db.session.execute(delete(model).where(model.id.in_(ids))
                           .execution_options(synchronize_session=False))
        record_event(actor, "operations.records_pruned", object_type="table",
                     object_id=model.__tablename__,
                     after={"rows": len(ids), "first_id": ids[0], "last_id": ids[-1],
                            "older_than": cutoff.isoformat()})
        commit()
        removed += len(ids)


def _progress_conditions(cutoff: datetime) -> list:
    newer = aliased(JobProgress)
    return [JobProgress.state.in_(FINISHED), JobProgress.finished_at < cutoff,
            # not the latest of its kind for its object
            exists().where(newer.kind == JobProgress.kind,
                           newer.object_type == JobProgress.object_type,
                           newer.object_id == JobProgress.object_id,
                           newer.id > JobProgress.id),
            *_not_named(JobProgress.id, JobProgress.__tablename__)]


def prune(actor: Identity, *, at: datetime | None = None) -> Pruned:
    """Remove what the settings no longer keep, batch by batch (each batch commits with its
    audit event; nothing is recorded when nothing went)."""
    settings = current_app.config["REFERRALS_SETTINGS"]
    at = at or now()
    outbox_cutoff = at - timedelta(days=settings.outbox_keep_days)
    progress_cutoff = at - timedelta(days=settings.progress_keep_days)
    failures_cutoff = at - timedelta(days=settings.sign_in_failure_keep_days)
    pruned = Pruned(cutoffs={"outbox": outbox_cutoff.isoformat(),
                             "progress": progress_cutoff.isoformat(),
                             "sign_in_failures": failures_cutoff.isoformat()})
    # Progress first: a record it removes may be what still named an outbox entry.
    pruned.progress = _delete_in_batches(actor, JobProgress,
                                         _progress_conditions(progress_cutoff), progress_cutoff)
    pruned.outbox = _delete_in_batches(actor, OutboxEntry, [
        OutboxEntry.state == "done", OutboxEntry.finished_at < outbox_cutoff,
        *_not_named(OutboxEntry.id, OutboxEntry.__tablename__)], outbox_cutoff)
    pruned.sign_in_failures = _delete_in_batches(actor, SignInFailure,
                                                 [SignInFailure.at < failures_cutoff],
                                                 failures_cutoff)
    return pruned


def counts() -> dict[str, int]:
    """How many rows each pruned table holds now (the command prints them)."""
    return {name: db.session.scalar(select(func.count()).select_from(model))
            for name, model in (("outbox", OutboxEntry), ("progress", JobProgress),
                                ("sign_in_failures", SignInFailure))}


# Daily at 04:10 UTC, after the retention run and the orphan sweep.
@jobs.periodic_task(crontab(hour="4", minute="10"))
def prune_records_job() -> dict:
    return prune(system_identity("job:housekeeping")).summary()


cli = AppGroup("housekeeping", help="The product's own bookkeeping rows (outbox, progress, "
                                    "sign-in failures).")


@cli.command("prune")
def prune_command():
    """Remove the bookkeeping rows the settings no longer keep (what the daily job does)."""
    with unit_of_work():
        before = counts()
        pruned = prune(system_identity("cli:housekeeping"))
    for name, count in counts().items():
        click.echo(f"{name}: {before[name]:,} rows, {getattr(pruned, name):,} removed, "
                   f"{count:,} kept (older than {pruned.cutoffs[name][:10]} went).")
