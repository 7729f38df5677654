"""``flask --app referrals tokens …``: API tokens."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup

from referrals.accounts.services import find_user_by_email
from referrals.core.clock import now
from referrals.core.errors import DomainError
from referrals.core.identity import system_identity
from referrals.core.transaction import unit_of_work
from referrals.tokens.services import create_token

cli = AppGroup("tokens", help="API tokens.")


@cli.command("create")
@click.argument("email")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="A scope such as escalations:write (repeat for several)")
@click.option("--name", default="", help="What the token is for")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Days until it expires (default REFERRALS_API_TOKEN_DAYS; at most "
                   "REFERRALS_API_TOKEN_MAX_DAYS)")
def tokens_create(email: str, scopes: tuple[str, ...], name: str, days: int | None):
    """Make an API token for EMAIL; prints it once (only a hash is stored)."""
    user = find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"There is no account {email}.")
    try:
        with unit_of_work():
            expires_at = now() + timedelta(days=days) if days else None
            token, secret = create_token(system_identity("cli:tokens create"), user,
                                         scopes=scopes, name=name or "CLI token",
                                         expires_at=expires_at)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"Token for {user.email} ({', '.join(token.scope_list)}), expires "
               f"{token.expires_at:%Y-%m-%d %H:%M} UTC, shown only now:")
    click.echo(secret)
