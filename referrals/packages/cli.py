"""``flask --app referrals packages …``: build a package of a case or of a request's production
to a given recipient, into a directory (for hand delivery, outside the delivery flow), and
verify a package as an agency would, check by check."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from referrals.cases.services import get_case
from referrals.core.errors import DomainError
from referrals.core.identity import system_identity
from referrals.core.signing import get_signer
from referrals.core.transaction import unit_of_work
from referrals.extensions import db
from referrals.packages.bag import PackageContentError
from referrals.packages.builder import build_package
from referrals.packages.contents import case_contents, production_contents
from referrals.packages.recipients import one_time_identity, parse_recipient
from referrals.packages.verify import PackageVerificationError, verify_package
from referrals.requests.models import DisclosureRequest

cli = AppGroup("packages", help="Evidence packages: build one, verify one.")


@cli.command("build")
@click.argument("reference")
@click.option("--recipient", "recipients", multiple=True,
              help="age1… or ssh-ed25519 … public key (repeat for several). None: a one-time "
                   "key, printed once.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--label", default=None, help="The package's name (default: REFERENCE-CLI).")
def build(reference: str, recipients: tuple[str, ...], out: Path, label: str | None):
    """Build a package of CASE-… (its evidence) or REQ-… (its production)."""
    actor = system_identity("command line: packages build")
    reference = reference.strip().upper()
    label = label or f"{reference}-CLI"
    try:
        for recipient in recipients:
            parse_recipient(recipient)
        with unit_of_work():
            if reference.startswith("REQ-"):
                request = _request(reference)
                contents = production_contents(request, label, custodian=actor.label)
            else:
                contents = case_contents(get_case(reference), label, prepared_by=actor.label)
        keys = list(recipients)
        one_time = None
        if not keys:
            one_time = one_time_identity()
            keys = [one_time.recipient]
        built = build_package(contents, keys, out, get_signer())
    except (DomainError, PackageContentError) as error:
        click.echo(getattr(error, "message", None) or str(error), err=True)
        sys.exit(1)
    click.echo(f"{built.path}  {built.size} bytes")
    click.echo(f"{built.checksum_path}")
    click.echo(f"{built.signature_path}")
    click.echo(f"SHA-256 {built.sha256}")
    if one_time is not None:
        click.echo("One-time key (shown once, not kept; save it as key.txt):")
        click.echo(one_time.secret)


def _request(reference: str) -> DisclosureRequest:
    found = db.session.scalar(select(DisclosureRequest)
                              .where(DisclosureRequest.reference == reference))
    if found is None:
        raise DomainError(f"There is no request {reference}.")
    return found


@cli.command("verify")
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--identity", "identity", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The key file: an age identity (AGE-SECRET-KEY-1…) or an SSH private key.")
def verify(package: Path, identity: Path):
    """Decrypt PACKAGE and run every check, printing each; exit 1 at the first failure."""
    try:
        for check in verify_package(package, identity.read_text(), get_signer()):
            click.echo(f"ok    {check.name}: {check.detail}")
    except PackageVerificationError as error:
        click.echo(f"FAIL  {error}")
        sys.exit(1)
    click.echo("The package is whole and signed by us.")
