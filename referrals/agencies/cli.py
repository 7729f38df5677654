"""``flask --app referrals agencies …``: the agency directory, for operators."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from referrals.core.errors import DomainError
from referrals.core.identity import system_identity
from referrals.core.transaction import unit_of_work
from referrals.directory.registry import import_registry, read_registry_file

cli = AppGroup("agencies", help="Agencies and the directory of official domains.")


@cli.command("import-directory")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--allow-mass-removal", is_flag=True,
              help="Accept a file that drops more than 5% of the registry's domains.")
def import_directory(file: str, allow_mass_removal: bool):
    """Load or refresh the US .gov registry from CISA's current-full.csv (run daily)."""
    started = time.perf_counter()
    try:
        text, sha256 = read_registry_file(file)
        with unit_of_work():
            report = import_registry(system_identity("cli:agencies import-directory"), text,
                                     sha256=sha256, allow_mass_removal=allow_mass_removal)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"Read {report.rows} rows in {time.perf_counter() - started:.1f} s: "
               f"{len(report.added)} added, {len(report.updated)} updated "
               f"({len(report.renamed)} renamed), {len(report.removed)} marked as gone, "
               f"{len(report.returned)} back, {len(report.skipped)} skipped.")
    for domain in sorted(report.removed)[:20]:
        click.echo(f"  gone: {domain}")
    for domain in sorted(report.renamed)[:20]:
        click.echo(f"  renamed: {domain}")
