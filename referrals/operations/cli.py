"""``flask --app referrals backup …``: backups of the database and the evidence store."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from referrals.core.transaction import unit_of_work
from referrals.operations.backup import BackupError, RestoreReport, check_installation, \
    create_backup, restore_backup

cli = AppGroup("backup", help="Backups of the database and the evidence store.")


@cli.command("create")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="A new, empty directory for the backup.")
def backup_create(out: Path):
    """Back up the database (one consistent snapshot) and every stored evidence file, with a
    manifest of their SHA-256 hashes. The storage keys are not in it: keep them apart."""
    try:
        manifest = create_backup(out)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    head = manifest["audit_head"]
    click.echo(f"Backup written to {out}: the {manifest['database']['kind']} database "
               f"(revision {manifest['database']['revision']}), {len(manifest['blobs'])} "
               f"stored file(s), audit chain at event #{head['seq'] if head else 0}.")


def _print(report: RestoreReport) -> None:
    click.echo(f"Audit chain: {report.audit_events} events checked.")
    click.echo(f"Evidence: {report.items_checked} item(s) checked against their stored files.")
    if report.ok:
        click.echo("Everything matches.")
        return
    for problem in report.problems:
        click.echo(f"PROBLEM: {problem}", err=True)
    sys.exit(1)


@cli.command("restore")
@click.argument("source", type=click.Path(path_type=Path, exists=True, file_okay=False))
def backup_restore(source: Path):
    """Restore a backup into this installation's EMPTY database and evidence directory, then
    prove it: the audit chain verifies and every evidence file matches its hash."""
    try:
        report = restore_backup(source)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Restored {report.blobs} stored file(s) and the database from {source}.")
    _print(report)


@cli.command("check")
def backup_check():
    """Check this installation as a restore does: the audit chain, and every stored evidence
    file against its recorded SHA-256 (it decrypts each one: takes a while on a large store)."""
    with unit_of_work():
        report = check_installation(RestoreReport())
    _print(report)
