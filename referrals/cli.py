"""``flask --app referrals …``: the one entry point for operators and scripts."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from referrals.audit.checkpoints import CheckpointError, verify_trail, write_checkpoint
from referrals.core.clock import now
from referrals.core.identity import system_identity
from referrals.core.signing import get_signer
from referrals.core.transaction import unit_of_work
from referrals.ncmec import cli as ncmec_cli
from referrals.remote import cli as work_cli

audit_cli = AppGroup("audit", help="The tamper-evident audit trail.")
demo_cli = AppGroup("demo", help="Demo data for a local try-out.")
accounts_cli = AppGroup("accounts", help="Accounts, for operators.")
tokens_cli = AppGroup("tokens", help="API tokens.")
retention_cli = AppGroup("retention", help="Purging closed cases, ended holds' snapshots and "
                                      "what was collected for finished requests.")
holds_cli = AppGroup("holds", help="Preservation holds.")


@tokens_cli.command("create")
@click.argument("email")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="A scope such as escalations:write (repeat for several)")
@click.option("--name", default="", help="What the token is for")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Days until it expires (default REFERRALS_API_TOKEN_DAYS; at most "
                   "REFERRALS_API_TOKEN_MAX_DAYS)")
def tokens_create(email: str, scopes: tuple[str, ...], name: str, days: int | None):
    """Make an API token for EMAIL; prints it once (only a hash is stored)."""
    from referrals.accounts.services import find_user_by_email
    from referrals.core.errors import DomainError
    from referrals.core.identity import system_identity
    from referrals.tokens.services import create_token

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


@audit_cli.command("verify")
@click.option("--checkpoint", "source", type=click.Path(path_type=Path),
              help="A checkpoint file or a directory of them (default: "
                   "REFERRALS_AUDIT_CHECKPOINT_DIR), e.g. what the webhook received.")
def audit_verify(source: Path | None):
    """Walk the audit chain and check it against every signed checkpoint; exit 1 naming the
    first bad event, or saying why the checkpoints cannot be read."""
    report = verify_trail(source)
    if report.ok:
        click.echo(f"Audit chain intact: {report.checked} events checked.")
        if report.note:
            click.echo(report.note)
        return
    click.echo(f"Audit chain BROKEN after {report.checked} good events: {report.problem}.",
               err=True)
    if report.bad_seq is not None:
        row = f" (row id {report.bad_id})" if report.bad_id is not None else ""
        click.echo(f"First bad event: #{report.bad_seq}{row}.", err=True)
    sys.exit(1)


@audit_cli.command("checkpoint")
def audit_checkpoint():
    """Sign the audit chain's head with the platform's key and write it outside the database
    now (the worker does this on a schedule: REFERRALS_AUDIT_CHECKPOINT_MINUTES)."""
    try:
        with unit_of_work():
            written = write_checkpoint(system_identity("cli:audit checkpoint"))
    except CheckpointError as error:
        raise click.ClickException(error.message) from error
    checkpoint = written.checkpoint
    click.echo(f"Checkpoint of event #{checkpoint.seq} ({checkpoint.chain_hash[:16]}…) "
               f"signed with {checkpoint.key}.")
    if written.path:
        click.echo(f"  written to {written.path}")
    if written.webhook:
        click.echo(f"  posted to {written.webhook}")


@audit_cli.command("public-key")
@click.option("--allowed-signers", is_flag=True,
              help="Print only the allowed_signers lines (retired keys too) for ssh-keygen -Y verify.")
def audit_public_key(allowed_signers: bool):
    """The platform's signing key: its OpenSSH public key and fingerprint."""
    signer = get_signer()
    if allowed_signers:
        click.echo(signer.allowed_signers("referrals"), nl=False)
        return
    click.echo(signer.public_key_openssh)
    click.echo(f"fingerprint {signer.fingerprint}")


def _refuse_in_production(command: str) -> None:
    # Demo accounts have passwords and TOTP secrets anyone can derive from the source.
    if current_app.config["REFERRALS_SETTINGS"].environment == "production":
        raise click.ClickException(
            f"`{command}` is for development and demos; it does not run in production."
        )


@demo_cli.command("seed")
def demo_seed():
    """Create the demo users and agencies (running it twice is harmless)."""
    from referrals.demo import seed_demo

    _refuse_in_production("demo seed")
    with unit_of_work():
        rows = seed_demo()
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


@demo_cli.command("totp")
@click.argument("email")
def demo_totp(email: str):
    """Print an account's current TOTP code (demo accounts only)."""
    from referrals.accounts.services import current_totp_code, find_user_by_email
    from referrals.demo import is_demo_email
    from referrals.core.clock import now

    _refuse_in_production("demo totp")
    user = find_user_by_email(email)
    if user is None or not is_demo_email(user.email):
        raise click.ClickException(f"{email} is not a demo account.")
    if not user.tf_totp_secret:
        raise click.ClickException(f"{email} has not enrolled an authenticator.")
    remaining = 30 - int(now().timestamp()) % 30
    click.echo(f"{current_totp_code(user)}   (valid for {remaining} more seconds; each code works once)")


@accounts_cli.command("create-admin")
@click.argument("email")
@click.option("--name", default="", help="Full name")
def create_admin(email: str, name: str):
    """Create an administrator; prints a one-time password to change at first sign-in."""
    from referrals.accounts.services import create_staff_user
    from referrals.core.errors import DomainError
    from referrals.core.identity import system_identity

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


@holds_cli.command("sweep")
def holds_sweep():
    """Expire holds whose time has run out and send the reminders now due (the worker does
    this hourly; running it again sends nothing twice)."""
    from referrals.core.identity import system_identity
    from referrals.holds.reminders import sweep

    with unit_of_work():
        report = sweep(actor=system_identity("cli:holds sweep"))
    click.echo(f"Hold sweep: {report.summary()}.")
    for reference in report.expired:
        click.echo(f"  expired   {reference}")
    for reference, days in report.reminded:
        click.echo(f"  reminded  {reference} ({days} days before expiry)")
    for reference in report.review_reminded:
        click.echo(f"  review    {reference}")


@retention_cli.command("run")
@click.option("--dry-run", is_flag=True, help="Say what would be purged; change nothing.")
def retention_run(dry_run: bool):
    """Purge closed cases, ended holds' snapshots and finished requests' collections past the
    retention period (the worker does this daily). Nothing held is ever purged."""
    from referrals.core.identity import system_identity
    from referrals.retention.services import purge_due

    actor = system_identity("cli:retention run")
    if dry_run:  # writes nothing, and nothing is committed
        report = purge_due(actor=actor, dry_run=True)
    else:
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


@retention_cli.command("orphans")
@click.option("--dry-run", is_flag=True, help="Count them; remove nothing.")
def retention_orphans(dry_run: bool):
    """Remove stored files that no row names, a day or more old (the worker does this
    daily): what failed uploads and interrupted writes left behind."""
    from referrals.core.identity import system_identity
    from referrals.retention.orphans import remove_orphans

    with unit_of_work():
        report = remove_orphans(actor=system_identity("cli:retention orphans"), dry_run=dry_run)
    verb = "would be removed" if dry_run else "removed"
    click.echo(f"{report.files} stored file(s) that no row names and {report.unfinished} "
               f"unfinished write(s), {report.bytes:,} bytes, {verb}.")


def register_cli(app: Flask) -> None:
    app.cli.add_command(audit_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(accounts_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(holds_cli)
    app.cli.add_command(retention_cli)
    app.cli.add_command(work_cli.cli)
    app.cli.add_command(ncmec_cli.cli)
