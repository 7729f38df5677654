"""``flask storage migrate --to s3``: see ``referrals.operations.storage_migration``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from referrals.core.objectstore import LocalObjects
from referrals.core.s3store import S3Objects
from referrals.operations.storage_migration import LOG_NAME, MigrationError, migrate_to

cli = AppGroup("storage", help="Where stored files live (a local directory or an S3 bucket).")


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
