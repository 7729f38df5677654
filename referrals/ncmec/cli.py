"""``flask --app referrals ncmec export CASE-…``: the ``<report>`` XML for a case, checked
against NCMEC's documented rules and XSD; a plain message and exit 1 when it cannot be sent."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from referrals.cases.models import Case
from referrals.core.errors import DomainError
from referrals.core.transaction import unit_of_work
from referrals.extensions import db
from referrals.ncmec.reading import case_evidence, checked_report
from referrals.ncmec.xml import ReportInvalid, to_xml

cli = AppGroup("ncmec", help="NCMEC CyberTipline reports.")


@cli.command("export")
@click.argument("case_reference")
def export(case_reference: str):
    """Print the CyberTipline <report> XML for CASE_REFERENCE."""
    with unit_of_work():
        case = db.session.scalar(select(Case).where(Case.reference == case_reference.strip()))
        if case is None:
            raise click.ClickException(f"There is no case {case_reference}.")
        try:
            report = checked_report(case, case_evidence(case))
        except ReportInvalid as error:
            click.echo(f"{case.reference} cannot be reported to NCMEC yet:", err=True)
            for where, what in error.problems:
                click.echo(f"  {where}: {what}", err=True)
            sys.exit(1)
        except DomainError as error:
            raise click.ClickException(str(error)) from None
        click.echo(to_xml(report).decode("utf-8"), nl=False)
