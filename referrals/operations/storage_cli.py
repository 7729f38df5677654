"""``flask --app referrals storage …``: where stored files live (``migrate --to s3``: see
``referrals.operations.storage_migration``) and which master keys encrypt them (``keys``,
``rewrap``, ``reencrypt-legacy``: see ``referrals.operations.storage_keys``)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from referrals.core.identity import system_identity
from referrals.core.objectstore import LocalObjects
from referrals.core.s3store import S3Objects
from referrals.core.storage import get_store
from referrals.core.transaction import unit_of_work
from referrals.operations.storage_keys import (LEGACY_BATCH, REWRAP_BATCH, KeyRotationError,
                                               key_report, reencrypt_legacy, rewrap)
from referrals.operations.storage_migration import LOG_NAME, MigrationError, migrate_to

cli = AppGroup("storage", help="Where stored files live (a local directory or an S3 bucket) "
                               "and the master keys that encrypt them.")


@cli.command("migrate")
@click.option("--to", "to", required=True, type=click.Choice(["s3"]),
              help="Where the stored files go (the bucket REFERRALS_S3_BUCKET names).")
def migrate(to: str) -> None:
    """Copy this installation's stored files from its directory into the bucket, verifying
    each; re-run it to continue or to catch up, then switch REFERRALS_STORAGE to s3."""
    settings = current_app.config["REFERRALS_SETTINGS"]
    if settings.storage_backend == "s3":
        raise click.ClickException("REFERRALS_STORAGE is s3 already: this installation runs on "
                                   "the bucket. Run the migration with REFERRALS_STORAGE=local "
                                   "(the directory it copies from) and the bucket's settings.")
    if not settings.s3_bucket:
        raise click.ClickException("Set REFERRALS_S3_BUCKET (and REFERRALS_S3_ENDPOINT_URL for "
                                   "a server other than AWS) to the bucket to migrate into.")
    target = S3Objects.connect(settings.s3_bucket, prefix=settings.s3_prefix,
                               endpoint_url=settings.s3_endpoint_url, region=settings.s3_region,
                               path_style=settings.s3_path_style)
    source = LocalObjects(settings.instance_path / "evidence")
    click.echo(f"Copying the stored files in {source.describe()} to {target.describe()} …")
    try:
        report = migrate_to(source, target, settings.storage_keys,
                            settings.instance_path / LOG_NAME,
                            packages=settings.package_dir or settings.instance_path / "packages",
                            say=click.echo)
    except MigrationError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{report.on_disk} stored file(s) on disk: {report.copied} copied and verified "
               f"({report.bytes_copied} bytes), {report.already_there} already in the bucket "
               f"and verified before, {report.removed_from_bucket} removed from the bucket "
               "(gone from disk since they were copied).")
    if not report.ok:
        for line in report.failed:
            click.echo(f"FAILED: {line}", err=True)
        raise click.ClickException(f"{len(report.failed)} stored file(s) did not verify in the "
                                   "bucket (removed from it again); the installation still "
                                   "runs on its directory. Run the command again; if the same "
                                   "files fail, check them with `flask backup check`.")
    click.echo("Every stored file is in the bucket. To switch: stop the servers and workers, "
               "run this command once more, set REFERRALS_STORAGE=s3 everywhere, start them.")


def _print_keys() -> bool:
    """Print which master keys are needed; False if one that is needed is not configured."""
    with unit_of_work():
        report = key_report(get_store())
    click.echo(f"Master keys configured: {', '.join(map(str, report.configured))} "
               f"(current: {report.current}).")
    for key_id in sorted(report.needed | set(report.configured)):
        wrapped, legacy = report.wrapped.get(key_id, 0), report.legacy.get(key_id, 0)
        state = "NOT CONFIGURED" if key_id in report.not_configured else (
            "current" if key_id == report.current else (
                "in use" if wrapped or legacy else "unused: may be removed"))
        click.echo(f"  key {key_id}: {wrapped} data key(s) wrapped, {legacy} legacy file(s) "
                   f"encrypted directly -- {state}")
    if report.missing_files:
        click.echo(f"{report.missing_files} named blob(s) have no stored file.")
    if report.not_configured:
        click.echo("Blobs cannot be read without master key(s) "
                   f"{', '.join(map(str, report.not_configured))}: put them back into "
                   "REFERRALS_STORAGE_KEYS.", err=True)
        return False
    if report.removable:
        click.echo(f"Key(s) {', '.join(map(str, report.removable))} may be removed from "
                   "REFERRALS_STORAGE_KEYS (keep a copy with your backups: older backups "
                   "need them).")
    else:
        click.echo("No configured key may be removed yet.")
    return True


@cli.command("keys")
def storage_keys():
    """Say which master key ids stored blobs still need, and which may be removed."""
    if not _print_keys():
        sys.exit(1)


@cli.command("rewrap")
@click.option("--from-key", type=int, default=None,
              help="Only the data keys this master key wraps (default: every older key).")
@click.option("--batch", type=click.IntRange(1, 100_000), default=REWRAP_BATCH,
              show_default=True, help="Data keys per transaction (and audit event).")
def storage_rewrap(from_key: int | None, batch: int):
    """Re-wrap every data key an older master key wraps under the current (highest) one. Safe
    to stop and run again. Blobs from before envelope encryption need reencrypt-legacy."""
    store = get_store()
    try:
        result = rewrap(system_identity("cli:storage rewrap"), store, from_key=from_key,
                        batch=batch, progress=click.echo)
    except KeyRotationError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{result.rewrapped} data key(s) re-wrapped under master key "
               f"{store.current_key_id} in {result.batches} batch(es).")
    if not _print_keys():
        sys.exit(1)


@cli.command("reencrypt-legacy")
@click.option("--batch", type=click.IntRange(1, 10_000), default=LEGACY_BATCH,
              show_default=True, help="Blobs per transaction (and audit event).")
def storage_reencrypt_legacy(batch: int):
    """Give each blob written before envelope encryption (encrypted directly by a master key)
    a data key of its own: decrypt, check its SHA-256, re-encrypt, replace. Safe to stop and
    run again; takes as long as reading and writing every such blob."""
    store = get_store()
    result = reencrypt_legacy(system_identity("cli:storage reencrypt-legacy"), store,
                              batch=batch, progress=click.echo)
    click.echo(f"{result.converted} legacy blob(s) re-encrypted; {result.busy} busy (run "
               f"again); {result.missing} named blob(s) without a stored file.")
    for problem in result.failed:
        click.echo(f"PROBLEM: {problem}", err=True)
    if not _print_keys() or result.failed:
        sys.exit(1)
