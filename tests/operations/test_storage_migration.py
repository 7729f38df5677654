"""``storage migrate --to s3``: a seeded installation's stored files move from its directory
into a bucket (moto's S3 server), verified; a second run skips what is there; the
installation switched to the bucket passes ``backup check`` (every blob decrypts to its
row's SHA-256); a bucket that cannot be reached is refused in words."""

from __future__ import annotations

import base64
import io
import os

import pytest

from referrals.core.blob_keys import add_key_row
from referrals.core.clock import now
from referrals.core.objectstore import LocalObjects
from referrals.core.storage import BlobStore
from referrals.core.transaction import commit
from referrals.evidence.models import StoredBlob
from referrals.extensions import db
from referrals.operations.storage_migration import migrate_to
from tests.s3 import new_bucket
from tests.separate_databases import cli_environ, run_flask, separate_database

KEYS = {1: bytes(range(32))}


def ok(done) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_an_installation_moves_to_the_bucket_and_runs_on_it(settings, tmp_path, s3_endpoint):
    bucket = new_bucket(s3_endpoint)
    with separate_database(settings, tmp_path, "migrated") as url:
        local = cli_environ(settings, url, REFERRALS_INSTANCE_PATH=str(tmp_path / "instance"),
                            REFERRALS_STORAGE_KEYS="1:" + base64.b64encode(os.urandom(32)).decode(),
                            REFERRALS_S3_BUCKET=bucket.bucket, REFERRALS_S3_ENDPOINT_URL=s3_endpoint,
                            REFERRALS_S3_PATH_STYLE="1", REFERRALS_STORAGE="local")
        ok(run_flask(local, "db", "upgrade"))
        ok(run_flask(local, "demo", "seed"))
        on_disk = list(LocalObjects(tmp_path / "instance" / "evidence").names())
        assert on_disk, "the demo stores evidence"

        said = ok(run_flask(local, "storage", "migrate", "--to", "s3"))
        assert f"{len(on_disk)} stored file(s) on disk: {len(on_disk)} copied and verified" in said
        assert sorted(bucket.names()) == sorted(on_disk)
        again = ok(run_flask(local, "storage", "migrate", "--to", "s3"))
        assert f"0 copied and verified (0 bytes), {len(on_disk)} already in the bucket" in again

        on_s3 = {**local, "REFERRALS_STORAGE": "s3"}
        checked = ok(run_flask(on_s3, "backup", "check"))
        assert "Everything matches." in checked
        refused = run_flask(on_s3, "storage", "migrate", "--to", "s3")
        assert refused.returncode != 0 and "REFERRALS_STORAGE is s3 already" in refused.stderr

        unreachable = run_flask({**local, "REFERRALS_S3_BUCKET": "no-such-bucket-anywhere"},
                                "storage", "migrate", "--to", "s3")
        assert unreachable.returncode != 0
        assert "cannot be reached" in unreachable.stderr and "Traceback" not in unreachable.stderr


def test_an_interrupted_run_continues_and_a_purged_blob_leaves_the_bucket(app, tmp_path,
                                                                           s3_objects,
                                                                           monkeypatch):
    source = BlobStore(tmp_path / "evidence", KEYS)
    names = [source.write(io.BytesIO(os.urandom(3000 + n))).name for n in range(4)]
    log = tmp_path / "migration.log"
    calls = []
    real_writer = s3_objects.writer

    def dies_on_the_third(name, keepalive=None):
        calls.append(name)
        if len(calls) == 3:
            raise ConnectionError("the network went away (synthetic)")
        return real_writer(name, keepalive)

    monkeypatch.setattr(s3_objects, "writer", dies_on_the_third)
    with pytest.raises(ConnectionError):
        migrate_to(source.objects, s3_objects, KEYS, log)
    assert len(log.read_text().split()) == 2

    monkeypatch.setattr(s3_objects, "writer", real_writer)
    purged = log.read_text().split()[0]  # one already in the bucket (names are random)
    source.delete(purged)  # purged while the migration was paused
    report = migrate_to(source.objects, s3_objects, KEYS, log)
    assert report.ok and report.on_disk == 3
    assert (report.copied, report.already_there, report.removed_from_bucket) == (2, 1, 1)
    assert sorted(s3_objects.names()) == sorted(set(names) - {purged})


def test_a_copy_that_does_not_verify_is_removed_and_reported(app, tmp_path, s3_objects):
    source = BlobStore(tmp_path / "evidence", KEYS)
    written = source.write(io.BytesIO(b"synthetic stored bytes"))
    name = written.name
    add_key_row(name, written.master_key_id, written.wrapped_key)  # its data key's row
    # A row that records another intake SHA-256 than the bytes decrypt to.
    db.session.add(StoredBlob(storage_name=name, size=22, sha256="0" * 64, key_id=1,
                              created_at=now()))
    commit()  # the migration lets go of its transaction before bytes move
    report = migrate_to(source.objects, s3_objects, KEYS, tmp_path / "log")
    assert not report.ok and name in report.failed[0]
    assert "decrypts to another SHA-256" in report.failed[0]
    assert list(s3_objects.names()) == []


def test_built_packages_move_too_and_an_expired_one_leaves_the_bucket(app, tmp_path,
                                                                       s3_objects):
    source = BlobStore(tmp_path / "evidence", KEYS)
    source.write(io.BytesIO(b"synthetic stored bytes"))
    packages = tmp_path / "packages"
    packages.mkdir()
    for name, data in (("REQ-1.tar.age", os.urandom(10_000)), ("REQ-1.tar.age.sha256", b"x\n"),
                       (".REQ-2.tar.age.abc.partial", b"half a build")):
        (packages / name).write_bytes(data)
    log = tmp_path / "log"
    report = migrate_to(source.objects, s3_objects, KEYS, log, packages=packages)
    assert report.ok and (report.on_disk, report.copied) == (3, 3)
    folder = s3_objects.folder("packages")
    assert sorted(folder.names()) == ["REQ-1.tar.age", "REQ-1.tar.age.sha256"]
    assert folder.read_bytes("REQ-1.tar.age") == (packages / "REQ-1.tar.age").read_bytes()

    (packages / "REQ-1.tar.age.sha256").unlink()  # the package expired meanwhile
    again = migrate_to(source.objects, s3_objects, KEYS, log, packages=packages)
    assert (again.copied, again.already_there, again.removed_from_bucket) == (0, 2, 1)
    assert list(folder.names()) == ["REQ-1.tar.age"]
