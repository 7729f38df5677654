"""``flask --app referrals audit …``: the tamper-evident audit trail."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from referrals.audit.checkpoints import CheckpointError, verify_trail, write_checkpoint
from referrals.core.identity import system_identity
from referrals.core.signing import get_signer
from referrals.core.transaction import unit_of_work

cli = AppGroup("audit", help="The tamper-evident audit trail.")


@cli.command("verify")
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


@cli.command("checkpoint")
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
        click.echo(f"  queued for {written.webhook} (the worker posts it, with retries)")


@cli.command("public-key")
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
