"""``flask --app referrals transparency --period 2026-H2 --format csv|pdf --out DIR``, and
``flask --app referrals qa draw`` / ``qa verify DRAW`` (a QA draw from cron, and its check)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from referrals.compliance.transparency import build_report, parse_period
from referrals.compliance.transparency_export import FORMATS, write_report
from referrals.core.errors import DomainError
from referrals.core.identity import system_identity
from referrals.core.transaction import unit_of_work
from referrals.disclosures import qa
from referrals.disclosures.qa_models import QaDraw
from referrals.extensions import db


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


qa_cli = AppGroup("qa", help="QA sampling of disclosures: draw a sample, check a draw.")


@qa_cli.command("draw")
def qa_draw():
    """Draw the disclosures released since the last draw at REFERRALS_QA_SAMPLE_RATE."""
    actor = system_identity("command line: qa draw")
    rate = current_app.config["REFERRALS_SETTINGS"].qa_sample_rate
    try:
        with unit_of_work():
            draw = qa.draw_sample(actor, rate)
            drawn = sorted(s.disclosure_id for s in draw.samples)
            summary = (f"Draw {draw.id}: {draw.drawn} of {draw.population} disclosures at rate "
                       f"{draw.rate}, seed {draw.seed}")
    except DomainError as error:
        click.echo(error.message, err=True)
        sys.exit(1)
    click.echo(summary)
    if drawn:
        click.echo("Drawn: " + ", ".join(str(i) for i in drawn))


@qa_cli.command("verify")
@click.argument("draw_id", type=int)
def qa_verify(draw_id: int):
    """Draw again from a draw's record and say whether it picks the same disclosures."""
    with unit_of_work():
        draw = db.session.get(QaDraw, draw_id)
        if draw is None:
            click.echo(f"There is no draw {draw_id}.", err=True)
            sys.exit(1)
        result = qa.recompute_draw(draw)
    if not result.matches:
        click.echo(f"Draw {draw_id} does NOT match its record: recomputed {result.expected}, "
                   f"recorded {result.recorded}.")
        sys.exit(1)
    click.echo(f"Draw {draw_id} matches: the same {len(result.expected)} of "
               f"{result.population} disclosures.")
