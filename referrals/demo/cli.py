"""``flask --app referrals demo …``: demo data for a local try-out."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from referrals.accounts.services import current_totp_code, find_user_by_email
from referrals.audit.checkpoints import CheckpointError, write_checkpoint
from referrals.core.clock import now
from referrals.core.identity import system_identity
from referrals.core.transaction import unit_of_work
from referrals.demo.bench import refresh_statistics, seed_bulk_cases
from referrals.demo.seed import is_demo_email, seed_demo

cli = AppGroup("demo", help="Demo data for a local try-out.")


def _refuse_in_production(command: str) -> None:
    # Demo accounts have passwords and TOTP secrets anyone can derive from the source.
    if current_app.config["REFERRALS_SETTINGS"].environment == "production":
        raise click.ClickException(
            f"`{command}` is for development and demos; it does not run in production."
        )


@cli.command("seed")
@click.option("--cases", type=click.IntRange(min=0), default=0, show_default=True,
              help="Also this many synthetic cases (3 identifiers each), for benchmarks.")
@click.option("--audit-events", type=click.IntRange(min=0), default=None,
              help="With --cases: audit events in all, up to this many "
                   "[default: 10 a case, at most 1,000,000].")
def demo_seed(cases: int, audit_events: int | None):
    """Create the demo users and agencies (running it twice is harmless); with --cases N,
    also N synthetic cases and their audit events, written in bulk."""
    _refuse_in_production("demo seed")
    with unit_of_work():
        rows = seed_demo()
    if cases:
        events = audit_events if audit_events is not None else min(10 * cases, 1_000_000)
        with unit_of_work():
            made = seed_bulk_cases(cases, audit_events_total=events)
        refresh_statistics()
        click.echo(f"Synthetic data: {made['cases']:,} cases, {made['identifiers']:,} "
                   f"identifiers, {made['audit_events']:,} audit events.\n")
    # A signed checkpoint, so that `audit verify` has something to check against.
    try:
        with unit_of_work():
            written = write_checkpoint(system_identity("cli:demo seed"), unless_unchanged=True)
    except CheckpointError as error:
        raise click.ClickException(
            f"{error.message} (A database made anew beside the checkpoints of an earlier one? "
            "In development, remove the directory REFERRALS_AUDIT_CHECKPOINT_DIR names, "
            "instance/audit-checkpoints by default, or run `make clean`.)") from error
    click.echo("Demo accounts (sign in at http://127.0.0.1:5000/):\n")
    click.echo(f"  {'e-mail':38} {'password':28} role / agency")
    for row in rows:
        click.echo(f"  {row['email']:38} {row['password']:28} {row['what']}")
        click.echo(f"  {'':38} TOTP secret {row['totp_key']}")
    click.echo(
        "\nEach account has TOTP two-factor. Its current code:"
        "\n  flask --app referrals demo totp EMAIL"
        "\n(or add the secret it prints to an authenticator app)."
    )
    if written is not None:
        click.echo(f"\nAudit checkpoint of event #{written.checkpoint.seq} written "
                   f"({written.path or written.webhook}).")


@cli.command("totp")
@click.argument("email")
def demo_totp(email: str):
    """Print an account's current TOTP code (demo accounts only)."""
    _refuse_in_production("demo totp")
    user = find_user_by_email(email)
    if user is None or not is_demo_email(user.email):
        raise click.ClickException(f"{email} is not a demo account.")
    if not user.tf_totp_secret:
        raise click.ClickException(f"{email} has not enrolled an authenticator.")
    remaining = 30 - int(now().timestamp()) % 30
    click.echo(f"{current_totp_code(user)}   (valid for {remaining} more seconds; each code works once)")
