"""``flask --app referrals accounts …``: accounts, for operators."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from referrals.accounts.services import create_staff_user
from referrals.core.errors import DomainError
from referrals.core.identity import system_identity
from referrals.core.transaction import unit_of_work

cli = AppGroup("accounts", help="Accounts, for operators.")


@cli.command("create-admin")
@click.argument("email")
@click.option("--name", default="", help="Full name")
def create_admin(email: str, name: str):
    """Create an administrator; prints a one-time password to change at first sign-in."""
    try:
        with unit_of_work():
            user, initial = create_staff_user(
                system_identity("cli:accounts create-admin"),
                email=email, full_name=name, roles=["admin"],
            )
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"Created {user.email} (admin). One-time password: {initial}")
    click.echo("They must change it and enrol an authenticator at first sign-in.")
