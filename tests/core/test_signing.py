"""The platform's signing key: SSH signatures that OpenSSH accepts (both ways), refusals, key
rotation, and the settings that hold the key (production refuses to start without one)."""

from __future__ import annotations

import shutil
import stat
import subprocess
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from config import ConfigError, load_settings
from referrals import create_app
from referrals.core.signing import BadSignature, PlatformSigner, SigningKeyError

NAMESPACE = "referrals-test"
MESSAGE = b'{"what":"a synthetic message"}\n'


@pytest.fixture(scope="module")
def ssh_keygen():
    path = shutil.which("ssh-keygen")
    assert path, "ssh-keygen (openssh-client) is needed for these tests"
    return path


@pytest.fixture
def signer(tmp_path):
    return PlatformSigner.load_or_create(tmp_path / "signing-key")


def test_a_signature_verifies_and_names_the_key(signer):
    verified = signer.verify(MESSAGE, signer.sign(MESSAGE, NAMESPACE), NAMESPACE)
    assert verified.fingerprint == signer.fingerprint and verified.current


@pytest.mark.parametrize("change", [
    lambda s, sig: s.verify(MESSAGE + b" ", sig, NAMESPACE),
    lambda s, sig: s.verify(MESSAGE, sig, "referrals-other-namespace"),
    lambda s, sig: PlatformSigner.generate().verify(MESSAGE, sig, NAMESPACE),
    lambda s, sig: s.verify(MESSAGE, sig.replace("A", "B", 1), NAMESPACE),
    lambda s, sig: s.verify(MESSAGE, "not a signature", NAMESPACE),
    lambda s, sig: s.verify(MESSAGE, sig[: len(sig) // 2] + "\n-----END SSH SIGNATURE-----",
                            NAMESPACE),
], ids=["other-message", "other-namespace", "other-key", "flipped-byte", "garbage", "cut-short"])
def test_what_does_not_verify(signer, change):
    with pytest.raises(BadSignature):
        change(signer, signer.sign(MESSAGE, NAMESPACE))


def test_ssh_keygen_accepts_our_signature(signer, tmp_path, ssh_keygen):
    (tmp_path / "allowed_signers").write_text(signer.allowed_signers("referrals"))
    (tmp_path / "message.sig").write_text(signer.sign(MESSAGE, NAMESPACE))
    checked = subprocess.run(
        [ssh_keygen, "-Y", "verify", "-f", str(tmp_path / "allowed_signers"), "-I", "referrals",
         "-n", NAMESPACE, "-s", str(tmp_path / "message.sig")],
        input=MESSAGE, capture_output=True)
    assert checked.returncode == 0, checked.stderr
    assert signer.fingerprint.encode() in checked.stdout


def test_we_accept_a_signature_ssh_keygen_made_with_the_key_file(signer, tmp_path, ssh_keygen):
    (tmp_path / "message").write_bytes(MESSAGE)
    made = subprocess.run([ssh_keygen, "-Y", "sign", "-f", str(tmp_path / "signing-key"),
                           "-n", NAMESPACE, str(tmp_path / "message")], capture_output=True)
    assert made.returncode == 0, made.stderr
    signature = (tmp_path / "message.sig").read_text()
    assert signer.verify(MESSAGE, signature, NAMESPACE).current


def test_the_public_key_and_fingerprint_match_openssh(signer, tmp_path, ssh_keygen):
    assert (tmp_path / "signing-key.pub").read_text().strip() == signer.public_key_openssh
    listed = subprocess.run([ssh_keygen, "-l", "-f", str(tmp_path / "signing-key.pub")],
                            capture_output=True, text=True)
    assert signer.fingerprint in listed.stdout


def test_the_generated_key_is_kept_private_and_reused(tmp_path):
    first = PlatformSigner.load_or_create(tmp_path / "signing-key")
    assert stat.S_IMODE((tmp_path / "signing-key").stat().st_mode) == 0o600
    again = PlatformSigner.load_or_create(tmp_path / "signing-key")
    assert again.fingerprint == first.fingerprint


def test_a_retired_key_still_verifies_what_it_signed(tmp_path):
    old = PlatformSigner.load_or_create(tmp_path / "old-key")
    signature = old.sign(MESSAGE, NAMESPACE)
    PlatformSigner.generate().write_private_key(tmp_path / "new-key")
    new = PlatformSigner.from_file(tmp_path / "new-key", retired=(old.public_key_openssh,))
    verified = new.verify(MESSAGE, signature, NAMESPACE)
    assert verified.fingerprint == old.fingerprint and not verified.current
    assert PlatformSigner.from_file(tmp_path / "new-key").fingerprint == new.fingerprint
    with pytest.raises(BadSignature):
        PlatformSigner.from_file(tmp_path / "new-key").verify(MESSAGE, signature, NAMESPACE)


def test_a_pkcs8_pem_key_is_read_too(tmp_path):
    signer = PlatformSigner.generate()
    pem = signer._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    (tmp_path / "key.pem").write_bytes(pem)
    assert PlatformSigner.from_file(tmp_path / "key.pem").fingerprint == signer.fingerprint


@pytest.mark.parametrize(("content", "says"), [
    (None, "cannot read the signing key"),
    (b"not a key at all", "not an unencrypted OpenSSH or PEM private key"),
    ("rsa", "must be Ed25519"),
])
def test_unusable_key_files_are_refused(tmp_path, content, says):
    path = tmp_path / "key"
    if content == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        content = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SigningKeyError, match=says):
        PlatformSigner.from_file(path)


# --- settings -------------------------------------------------------------------------------


def _production(tmp_path, **extra):
    environ = {
        "REFERRALS_ENV": "production", "REFERRALS_INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "p" * 48, "REFERRALS_PASSWORD_SALT": "s" * 24,
        "REFERRALS_TOTP_SECRETS": "1:" + "t" * 32,
        "REFERRALS_STORAGE_KEYS": "1:" + "a" * 43 + "=",
        "DATABASE_URL": "postgresql://referrals:referrals@db.internal.example:5432/referrals",
        "REFERRALS_SIGNING_KEY_FILE": str(tmp_path / "signing-key"),
        "REFERRALS_AUDIT_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
    }
    environ.update(extra)
    return {key: value for key, value in environ.items() if value is not None}


def test_production_refuses_to_start_without_a_signing_key(tmp_path):
    with pytest.raises(ConfigError, match="REFERRALS_SIGNING_KEY_FILE"):
        load_settings(_production(tmp_path, REFERRALS_SIGNING_KEY_FILE=None))


def test_production_refuses_checkpoints_that_go_nowhere(tmp_path):
    with pytest.raises(ConfigError, match="REFERRALS_AUDIT_CHECKPOINT_DIR"):
        load_settings(_production(tmp_path, REFERRALS_AUDIT_CHECKPOINT_DIR=None))
    webhook_only = load_settings(_production(
        tmp_path, REFERRALS_AUDIT_CHECKPOINT_DIR=None,
        REFERRALS_AUDIT_CHECKPOINT_WEBHOOK_URL="https://audit-archive.example/checkpoints"))
    assert webhook_only.audit_checkpoint_dir is None


def test_production_never_makes_a_key(tmp_path):
    settings = load_settings(_production(tmp_path))
    assert settings.signing_key_path == tmp_path / "signing-key"
    assert settings.signing_key_generate is False


def test_development_makes_its_key_and_store_under_the_instance_path(tmp_path):
    settings = load_settings({"REFERRALS_ENV": "development",
                              "REFERRALS_INSTANCE_PATH": str(tmp_path)})
    assert settings.signing_key_path == tmp_path / "signing-key"
    assert settings.signing_key_generate is True
    assert settings.audit_checkpoint_dir == tmp_path / "audit-checkpoints"
    assert settings.audit_checkpoint_minutes == 60


@pytest.mark.parametrize(("name", "value"), [
    ("REFERRALS_AUDIT_CHECKPOINT_MINUTES", "0"),
    ("REFERRALS_AUDIT_CHECKPOINT_MINUTES", "7"),
    ("REFERRALS_AUDIT_CHECKPOINT_MINUTES", "hourly"),
    ("REFERRALS_AUDIT_CHECKPOINT_MINUTES", "2880"),
    ("REFERRALS_AUDIT_CHECKPOINT_WEBHOOK_URL", "ftp://archive.example/"),
])
def test_bad_checkpoint_settings_are_refused(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({"REFERRALS_ENV": "development",
                       "REFERRALS_INSTANCE_PATH": str(tmp_path), name: value})


def test_the_app_does_not_start_with_an_unreadable_key(settings, tmp_path):
    (tmp_path / "broken-key").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n")
    for path in (tmp_path / "missing-key", tmp_path / "broken-key"):
        with pytest.raises(ConfigError, match="signing key cannot be used"):
            create_app(replace(settings, signing_key_path=path, signing_key_generate=False))


def test_the_app_does_not_start_with_a_malformed_retired_key(settings):
    with pytest.raises(ConfigError, match="retired key 1"):
        create_app(replace(settings, signing_retired_keys=("ssh-ed25519 not-base64",)))
