"""``flask packages build`` and ``flask packages verify``: a case's package to a recipient,
verified check by check; a tampered package fails at the check that catches it (exit 1)."""

from __future__ import annotations

import io

import pyrage

from referrals.core.identity import Identity
from referrals.evidence.services import add_evidence
from tests import factories
from tests.cases.helpers import open_case


def test_build_then_verify_and_a_flipped_byte_fails(app, tmp_path):
    agent = factories.make_user("agent")
    case = open_case(agent)
    add_evidence(Identity.for_user(agent), case, io.BytesIO(b"synthetic cli evidence\n" * 999),
                 original_name="cli.txt")
    identity = pyrage.x25519.Identity.generate()
    key = tmp_path / "key.txt"
    key.write_text(str(identity) + "\n")
    runner = app.test_cli_runner()

    built = runner.invoke(args=["packages", "build", case.reference, "--recipient",
                                str(identity.to_public()), "--out", str(tmp_path / "out")])
    assert built.exit_code == 0, built.output
    package = tmp_path / "out" / f"{case.reference}-CLI.tar.age"
    assert package.is_file() and str(package) in built.output

    verified = runner.invoke(args=["packages", "verify", str(package), "--identity", str(key)])
    assert verified.exit_code == 0, verified.output
    for check in ("checksum signature", "transfer checksum", "decryption", "tar",
                  "payload manifests", "tag manifest", "bag signature"):
        assert f"ok    {check}" in verified.output

    data = bytearray(package.read_bytes())
    data[len(data) // 2] ^= 1
    package.write_bytes(bytes(data))
    failed = runner.invoke(args=["packages", "verify", str(package), "--identity", str(key)])
    assert failed.exit_code == 1
    assert "FAIL  The package's SHA-256" in failed.output
    assert "ok    decryption" not in failed.output


def test_a_one_time_key_is_printed_once_and_a_bad_recipient_is_refused(app, tmp_path):
    agent = factories.make_user("agent")
    case = open_case(agent)
    add_evidence(Identity.for_user(agent), case, io.BytesIO(b"synthetic\n"), original_name="a.txt")
    runner = app.test_cli_runner()
    built = runner.invoke(args=["packages", "build", case.reference, "--out", str(tmp_path)])
    assert built.exit_code == 0 and built.output.count("AGE-SECRET-KEY-1") == 1
    refused = runner.invoke(args=["packages", "build", case.reference, "--recipient",
                                  "age1notavalidkey", "--out", str(tmp_path)])
    assert refused.exit_code == 1 and "not valid" in refused.output
