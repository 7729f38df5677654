"""``flask --app referrals retention …``: purging what is past its retention period."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from referrals.core.identity import system_identity
from referrals.core.leases import exclusive, periodic_lease
from referrals.core.transaction import unit_of_work
from referrals.retention.jobs import purge_retention_job, remove_orphan_files_job
from referrals.retention.orphans import remove_orphans
from referrals.retention.services import purge_due

cli = AppGroup("retention", help="Purging closed cases, ended holds' snapshots and "
                                 "what was collected for finished requests.")


@cli.command("run")
@click.option("--dry-run", is_flag=True, help="Say what would be purged; change nothing.")
def retention_run(dry_run: bool):
    """Purge closed cases, ended holds' snapshots and finished requests' collections past the
    retention period (the worker does this daily). Nothing held is ever purged."""
    actor = system_identity("cli:retention run")
    if dry_run:  # writes nothing, and nothing is committed
        report = purge_due(actor=actor, dry_run=True)
    else:
        with exclusive(periodic_lease(purge_retention_job.name)) as mine:
            if not mine:
                raise click.ClickException("A worker is running the retention purge right now; "
                                           "run this again when it has finished.")
            with unit_of_work():
                report = purge_due(actor=actor)
    verb = "would purge" if dry_run else "purged"
    click.echo(f"Retention of {report.retention_days} days, as of "
               f"{report.at:%Y-%m-%d %H:%M} UTC{' (dry run: nothing changed)' if dry_run else ''}.")
    for case in report.cases:
        click.echo(f"  {verb} {case.reference} (closed {case.closed_at:%Y-%m-%d}; "
                   f"{case.items} evidence item(s))")
    for reference, count in report.snapshots.items():
        click.echo(f"  {verb} {count} snapshot item(s) of {reference}")
    for reference, count in report.collections.items():
        click.echo(f"  {verb} {count} item(s) collected for {reference}")
    for reference in report.held_cases:
        click.echo(f"  kept    {reference}: past retention but held")
    if report.held_snapshot_items:
        click.echo(f"  kept    {report.held_snapshot_items} snapshot item(s) of ended holds: held")
    if report.held_collected_items:
        click.echo(f"  kept    {report.held_collected_items} item(s) collected for closed "
                   "requests: held")
    click.echo(f"{len(report.cases)} case(s), {len(report.item_ids)} evidence item(s) and "
               f"{report.files_removed} stored file(s) {'would be ' if dry_run else ''}"
               f"{'removed' if dry_run else 'purged'}.")


@cli.command("orphans")
@click.option("--dry-run", is_flag=True, help="Count them; remove nothing.")
def retention_orphans(dry_run: bool):
    """Remove stored files that no row names, a day or more old (the worker does this
    daily): what failed uploads and interrupted writes left behind."""
    with exclusive(periodic_lease(remove_orphan_files_job.name)) as mine:
        if not mine:
            raise click.ClickException("A worker is removing orphan files right now; run this "
                                       "again when it has finished.")
        with unit_of_work():
            report = remove_orphans(actor=system_identity("cli:retention orphans"),
                                    dry_run=dry_run)
    verb = "would be removed" if dry_run else "removed"
    click.echo(f"{report.files} stored file(s) that no row names and {report.unfinished} "
               f"unfinished write(s), {report.bytes:,} bytes, {verb}.")
