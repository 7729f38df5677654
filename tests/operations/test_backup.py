"""The restore drill: a backup of a seeded installation, restored into a fresh one, passes
``audit verify`` against the signed checkpoints and every evidence hash matches; a damaged
backup or a non-empty target is refused in words."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.separate_databases import cli_environ, run_flask, separate_database


@pytest.fixture
def installations(settings, tmp_path):
    """Two installations with the same secrets (as an operator's restore has them), each
    with its own database and instance directory; the checkpoints are kept apart from both."""
    secrets = {
        "SECRET_KEY": "s" * 40, "REFERRALS_PASSWORD_SALT": "p" * 20,
        "REFERRALS_TOTP_SECRETS": "1:" + base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "REFERRALS_STORAGE_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
        "REFERRALS_SIGNING_KEY_FILE": str(tmp_path / "signing-key"),
        "REFERRALS_AUDIT_CHECKPOINT_DIR": str(tmp_path / "checkpoints-kept-elsewhere"),
    }
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(tmp_path / "signing-key")], check=True)
    with separate_database(settings, tmp_path, "source") as source_url, \
            separate_database(settings, tmp_path, "restored") as restored_url:
        source = cli_environ(settings, source_url, REFERRALS_INSTANCE_PATH=str(tmp_path / "src"),
                             **secrets)
        restored = cli_environ(settings, restored_url,
                               REFERRALS_INSTANCE_PATH=str(tmp_path / "dst"), **secrets)
        yield source, restored


def ok(done) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_backup_restored_into_a_fresh_instance_verifies(installations, tmp_path):
    source, restored = installations
    ok(run_flask(source, "db", "upgrade"))
    ok(run_flask(source, "demo", "seed"))
    ok(run_flask(source, "audit", "checkpoint"))
    backup = tmp_path / "backup"
    said = ok(run_flask(source, "backup", "create", "--out", str(backup)))
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["blobs"], "the demo's evidence files are in the backup"
    assert f"{len(manifest['blobs'])} stored file(s)" in said
    for blob in manifest["blobs"]:
        copied = (backup / "blobs" / blob["path"]).read_bytes()
        assert blob["plaintext_sha256"] not in copied.hex(), "still encrypted"
        # Envelope blobs: the data key is a row of the database backup, not in the file.
        assert copied[:8] == b"RFB2" + bytes(4)

    said = ok(run_flask(restored, "backup", "restore", str(backup)))
    assert "Everything matches." in said
    assert f"Restored {len(manifest['blobs'])} stored file(s)" in said
    verified = ok(run_flask(restored, "audit", "verify"))
    assert "Audit chain intact" in verified
    assert "Everything matches." in ok(run_flask(restored, "backup", "check"))

    again = run_flask(restored, "backup", "restore", str(backup))
    assert again.returncode == 1 and "not empty" in again.stderr


def test_a_damaged_backup_is_refused_naming_the_file(installations, tmp_path):
    source, restored = installations
    ok(run_flask(source, "db", "upgrade"))
    ok(run_flask(source, "demo", "seed"))
    backup = tmp_path / "backup"
    ok(run_flask(source, "backup", "create", "--out", str(backup)))
    blob = json.loads((backup / "manifest.json").read_text())["blobs"][0]
    path: Path = backup / "blobs" / blob["path"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    refused = run_flask(restored, "backup", "restore", str(backup))
    assert refused.returncode == 1
    assert blob["name"] in refused.stderr and "altered or damaged" in refused.stderr


def test_a_backup_goes_into_a_new_directory_and_an_unfinished_one_is_not_restored(
        installations, tmp_path):
    source, restored = installations
    ok(run_flask(source, "db", "upgrade"))
    full = tmp_path / "full"
    full.mkdir()
    (full / "something").write_text("already here")
    refused = run_flask(source, "backup", "create", "--out", str(full))
    assert refused.returncode == 1 and "not empty" in refused.stderr
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    refused = run_flask(restored, "backup", "restore", str(unfinished))
    assert refused.returncode == 1 and "did not finish" in refused.stderr
