"""``flask --app referrals transparency --period 2026-H2 --format csv|pdf --out DIR``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from referrals.compliance.transparency import build_report, parse_period
from referrals.compliance.transparency_export import FORMATS, write_report
from referrals.core.errors import DomainError
from referrals.core.identity import system_identity
from referrals.core.transaction import unit_of_work


@click.command("transparency")
@click.option("--period", required=True, help="The half-year: YYYY-H1 or YYYY-H2, e.g. 2026-H2.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True,
              help="csv: one file per table; pdf: one file with the charts and tables.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The directory to write into (made if missing).")
def cli(period: str, fmt: str, out: Path):
    """Write the transparency report of a half-year."""
    actor = system_identity("command line: transparency")
    try:
        half = parse_period(period)
        with unit_of_work():
            report = build_report(half)
            written = write_report(actor, report, fmt, out)
    except DomainError as error:
        click.echo(error.message, err=True)
        sys.exit(1)
    except OSError as error:
        click.echo(f"Cannot write into {out}: {error.strerror or error}.", err=True)
        sys.exit(1)
    summary = report.summary
    click.echo(f"Transparency report {half.key} ({half.label}): {summary['total_requests']} "
               f"requests from {summary['countries']} countries, "
               f"{summary['preservation_requests']} preservation requests, "
               f"{summary['cybertipline_reports']} CyberTipline reports.")
    for path in written:
        click.echo(str(path))
