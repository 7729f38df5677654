"""``flask --app referrals work …``: what the outbox owes and how remote operations stand, for
operators; and the check a person makes when a remote step may have happened."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from referrals.core import outbox
from referrals.core.errors import DomainError
from referrals.core.identity import system_identity
from referrals.core.transaction import unit_of_work
from referrals.remote.operations import (get_operation, resolve_unknown_step,
                                         unfinished_operations)

cli = AppGroup("work", help="Durable work: the outbox and remote operations.")


@cli.command("status")
def work_status():
    """Entries owed by state, those that failed, and remote operations not done."""
    with unit_of_work():
        counts = outbox.counts()
        click.echo("Outbox: " + (", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
                                 or "empty") + ".")
        for entry in outbox.troubled():
            click.echo(f"  #{entry.id} {entry.state:8} {entry.job} (attempt {entry.attempts}): "
                       f"{entry.last_error}")
        operations = unfinished_operations()
        click.echo(f"Remote operations not done: {len(operations)}.")
        for operation in operations:
            about = f" for {operation.object_type} {operation.object_id}" \
                if operation.object_type else ""
            click.echo(f"  #{operation.id} {operation.kind}{about}: {operation.state}"
                       + (f" — {operation.last_error}" if operation.last_error else ""))


@cli.command("sweep")
def work_sweep():
    """Hand over now what is owed and not running (the worker does this every minute)."""
    with unit_of_work():
        handed = outbox.sweep()
    click.echo(f"Handed {len(handed)} outbox entr{'y' if len(handed) == 1 else 'ies'} to the "
               "job queue.")


@cli.command("resolve")
@click.argument("operation_id", type=int)
@click.option("--happened/--not-happened", required=True,
              help="What the remote says became of the step the operation stopped at.")
@click.option("--remote-id", "remote_ids", multiple=True, metavar="NAME=VALUE",
              help="An id the remote gave for that step (e.g. report_id=123), if it happened.")
def work_resolve(operation_id: int, happened: bool, remote_ids: tuple[str, ...]):
    """Record what a person learnt from the remote about a step whose outcome was unknown;
    the operation then goes on (and makes the step again only if it did not happen)."""
    ids = {}
    for pair in remote_ids:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.UsageError(f"--remote-id takes NAME=VALUE, not {pair!r}.")
        ids[name] = value
    try:
        with unit_of_work():
            operation = get_operation(operation_id)
            resolve_unknown_step(system_identity("cli:work resolve"), operation,
                                 happened=happened, remote_ids=ids)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"Operation {operation_id}: recorded; it goes on.")
