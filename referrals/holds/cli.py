"""``flask --app referrals holds …``: preservation holds."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from referrals.core.identity import system_identity
from referrals.core.leases import exclusive, periodic_lease
from referrals.core.transaction import unit_of_work
from referrals.holds.reminders import sweep, sweep_holds

cli = AppGroup("holds", help="Preservation holds.")


@cli.command("sweep")
def holds_sweep():
    """Expire holds whose time has run out and send the reminders now due (the worker does
    this hourly; running it again sends nothing twice)."""
    with exclusive(periodic_lease(sweep_holds.name)) as mine:
        if not mine:
            raise click.ClickException("A worker is running the hold sweep right now; run this "
                                       "again when it has finished.")
        with unit_of_work():
            report = sweep(actor=system_identity("cli:holds sweep"))
    click.echo(f"Hold sweep: {report.summary()}.")
    for reference in report.expired:
        click.echo(f"  expired   {reference}")
    for reference, days in report.reminded:
        click.echo(f"  reminded  {reference} ({days} days before expiry)")
    for reference in report.review_reminded:
        click.echo(f"  review    {reference}")
