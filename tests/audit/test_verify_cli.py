"""``flask --app referrals audit verify`` and ``audit checkpoint`` as an operator runs them,
against a committed database of their own, tampered with the way an attacker with write access
to the database would: each tampering is caught, with a plain message and a non-zero exit."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, func, select, text

from referrals.audit.models import GENESIS_HASH, AuditEvent
from referrals.core.signing import PlatformSigner
from tests.audit.tampering import move_head as _move_head
from tests.audit.tampering import rewrite_from as _rewrite_from
from tests.separate_databases import checkpoint_dir_for, cli_environ, run_flask, separate_database


@pytest.fixture(scope="module")
def cli_database(app, settings, tmp_path_factory):
    """A separate database, migrated and seeded through the real CLI (which writes the first
    signed checkpoint to the database's own checkpoint directory)."""
    with separate_database(settings, tmp_path_factory.mktemp("audit-cli"), "cli") as url:
        environ = cli_environ(settings, url)
        for args in (("db", "upgrade"), ("demo", "seed")):
            result = run_flask(environ, *args)
            assert result.returncode == 0, result.stdout + result.stderr
        engine = create_engine(url)
        try:
            yield SimpleNamespace(environ=environ, engine=engine,
                                  checkpoints=checkpoint_dir_for(settings, url))
        finally:
            engine.dispose()


@pytest.fixture
def cli_chain(cli_database, tmp_path):
    """The seeded chain and its checkpoints; whatever a test changes is put back afterwards."""
    engine = cli_database.engine
    table = AuditEvent.__table__
    with engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(select(table))]
        head = dict(connection.execute(text("SELECT * FROM audit_chain_head")).one()._mapping)
    kept = tmp_path / "kept-checkpoints"
    shutil.copytree(cli_database.checkpoints, kept)
    yield cli_database
    with engine.begin() as connection:
        connection.execute(table.delete())
        connection.execute(table.insert(), rows)
        connection.execute(
            text("UPDATE audit_chain_head SET seq = :seq, last_hash = :last_hash WHERE id = :id"),
            head,
        )
    shutil.rmtree(cli_database.checkpoints)
    shutil.copytree(kept, cli_database.checkpoints)


def _verify(chain, *args: str, **environ: str):
    return run_flask({**chain.environ, **environ}, "audit", "verify", *args)


def _first_bad(result) -> int:
    match = re.search(r"First bad event: #(\d+)\b", result.stderr + result.stdout)
    assert match, result.stdout + result.stderr
    return int(match.group(1))


def _signed_seq(chain) -> int:
    """The sequence number the seed's checkpoint signed."""
    [path] = sorted(chain.checkpoints.glob("checkpoint-*.json"))
    return json.loads(json.loads(path.read_text())["checkpoint"])["seq"]


def _count(connection) -> int:
    return connection.execute(select(func.count()).select_from(AuditEvent.__table__)).scalar()


def test_demo_seed_leaves_a_checkpoint_and_the_chain_verifies(cli_chain):
    with cli_chain.engine.connect() as connection:
        count = _count(connection)
    assert count >= 10  # demo seed audits every account and agency it creates
    # The seed signed its last event; writing the checkpoint is audited too.
    assert _signed_seq(cli_chain) == count - 1
    result = _verify(cli_chain)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Audit chain intact: {count} events checked." in result.stdout
    assert "every signed checkpoint (1;" in result.stdout


# --- the five tamperings (and emptying the log) --------------------------------------------


def _edit(connection, seq):
    connection.execute(text(
        "UPDATE audit_events SET after = '{\"status\":\"suspended\"}' WHERE seq = :seq"), {"seq": seq})


def _delete(connection, seq):
    connection.execute(text("DELETE FROM audit_events WHERE seq = :seq"), {"seq": seq})


def _swap(connection, a, b):
    connection.execute(text("UPDATE audit_events SET seq = -1 WHERE seq = :a"), {"a": a})
    connection.execute(text("UPDATE audit_events SET seq = :a WHERE seq = :b"), {"a": a, "b": b})
    connection.execute(text("UPDATE audit_events SET seq = :b WHERE seq = -1"), {"b": b})


def _cut_tail(connection, keep: int) -> None:
    """Delete every event after ``keep`` and move the head back to it, as an attacker would."""
    connection.execute(text("DELETE FROM audit_events WHERE seq > :keep"), {"keep": keep})
    last = connection.execute(text("SELECT hash FROM audit_events WHERE seq = :keep"),
                              {"keep": keep}).scalar()
    _move_head(connection, keep, last)


def _empty(connection) -> None:
    connection.execute(text("DELETE FROM audit_events"))
    _move_head(connection, 0, GENESIS_HASH)


@pytest.mark.parametrize(("tamper", "first_bad", "says"), [
    (lambda c, signed: _edit(c, 5), lambda signed: 5, "was changed after it was written"),
    (lambda c, signed: _delete(c, 7), lambda signed: 7, "is missing"),
    (lambda c, signed: _swap(c, 3, 4), lambda signed: 3, "does not follow"),
    (lambda c, signed: _cut_tail(c, 10), lambda signed: 11,
     "events at the end were removed and the head moved back"),
    (lambda c, signed: _rewrite_from(c, 6), lambda signed: signed,
     "is not the event a signed checkpoint recorded"),
    (lambda c, signed: _empty(c), lambda signed: 1,
     "the chain ends at event #0, but the checkpoint"),
], ids=["edit", "delete", "reorder", "cut-tail-and-move-head", "rewrite-with-new-hashes",
        "empty-the-log"])
def test_verify_catches_the_tampering(cli_chain, tamper, first_bad, says):
    signed = _signed_seq(cli_chain)
    with cli_chain.engine.begin() as connection:
        tamper(connection, signed)
    result = _verify(cli_chain)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stderr and says in result.stderr, result.stderr
    assert _first_bad(result) == first_bad(signed)
    assert "Traceback" not in result.stderr


def test_a_rewrite_is_named_with_the_checkpoint_it_contradicts(cli_chain):
    signed = _signed_seq(cli_chain)
    with cli_chain.engine.begin() as connection:
        _rewrite_from(connection, 2)
    result = _verify(cli_chain)
    assert result.returncode == 1
    [name] = [p.name for p in cli_chain.checkpoints.glob("checkpoint-*.json")]
    assert f"checkpoint {name} (event #{signed}, signed " in result.stderr


# --- the checkpoint store ------------------------------------------------------------------


def test_a_missing_checkpoint_store_is_a_failure(cli_chain, tmp_path):
    result = _verify(cli_chain, REFERRALS_AUDIT_CHECKPOINT_DIR=str(tmp_path / "not-there"))
    assert result.returncode == 1
    assert "does not exist or is not a directory" in result.stderr
    assert "Audit chain intact" not in result.stdout


def test_an_unreadable_checkpoint_is_a_failure(cli_chain):
    (cli_chain.checkpoints / "checkpoint-999999999999-20991231T000000000000Z.json").mkdir()
    result = _verify(cli_chain)
    assert result.returncode == 1
    assert "cannot be read" in result.stderr


def test_an_empty_checkpoint_store_is_a_failure_once_there_are_events(cli_chain, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _verify(cli_chain, REFERRALS_AUDIT_CHECKPOINT_DIR=str(empty))
    assert result.returncode == 1
    assert "no signed checkpoint yet" in result.stderr
    assert "audit checkpoint" in result.stderr  # says what to do


def test_a_checkpoint_signed_by_another_key_is_a_failure(cli_chain):
    [path] = sorted(cli_chain.checkpoints.glob("checkpoint-*.json"))
    envelope = json.loads(path.read_text())
    other = PlatformSigner.generate()
    envelope["signature"] = other.sign(envelope["checkpoint"].encode(), "referrals-audit-checkpoint")
    envelope["public_key"] = other.public_key_openssh  # it says so; verify does not listen
    path.write_text(json.dumps(envelope))
    result = _verify(cli_chain)
    assert result.returncode == 1
    assert "does not verify with the platform's signing key" in result.stderr
    assert "not the platform's" in result.stderr


def test_a_checkpoint_edited_after_signing_is_a_failure(cli_chain):
    """Moving a checkpoint back to match a cut tail breaks its signature."""
    [path] = sorted(cli_chain.checkpoints.glob("checkpoint-*.json"))
    envelope = json.loads(path.read_text())
    document = json.loads(envelope["checkpoint"])
    document["seq"] = 3
    envelope["checkpoint"] = json.dumps(document, sort_keys=True, separators=(",", ":"))
    path.write_text(json.dumps(envelope))
    result = _verify(cli_chain)
    assert result.returncode == 1
    assert "does not match what was signed" in result.stderr


def test_verify_checks_a_checkpoint_file_given_on_the_command_line(cli_chain, tmp_path):
    """Where checkpoints go only to a webhook, the operator passes the one it received."""
    [path] = sorted(cli_chain.checkpoints.glob("checkpoint-*.json"))
    received = tmp_path / "received.json"
    received.write_bytes(path.read_bytes())
    result = _verify(cli_chain, "--checkpoint", str(received),
                     REFERRALS_AUDIT_CHECKPOINT_DIR=str(tmp_path / "not-there"))
    assert result.returncode == 0, result.stderr
    with cli_chain.engine.begin() as connection:
        _cut_tail(connection, 4)
    result = _verify(cli_chain, "--checkpoint", str(received))
    assert result.returncode == 1
    assert _first_bad(result) == 5


def test_checkpoint_command_signs_the_head_and_verify_uses_the_newest(cli_chain):
    result = run_flask(cli_chain.environ, "audit", "checkpoint")
    assert result.returncode == 0, result.stderr
    with cli_chain.engine.connect() as connection:
        count = _count(connection)
    assert f"Checkpoint of event #{count - 1} " in result.stdout
    assert len(list(cli_chain.checkpoints.glob("checkpoint-*.json"))) == 2
    # A cut that the older checkpoint would allow is caught by the newer one.
    with cli_chain.engine.begin() as connection:
        _cut_tail(connection, count - 2)
    result = _verify(cli_chain)
    assert result.returncode == 1
    assert _first_bad(result) == count - 1


def test_checkpoint_command_refuses_to_sign_a_cut_chain(cli_chain):
    """Signing the new head after a cut would make the cut pass every later check."""
    with cli_chain.engine.begin() as connection:
        _cut_tail(connection, 6)
    before = sorted(cli_chain.checkpoints.iterdir())
    result = run_flask(cli_chain.environ, "audit", "checkpoint")
    assert result.returncode == 1
    assert "No checkpoint written: the chain no longer holds event #" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(cli_chain.checkpoints.iterdir()) == before


def test_the_checkpoint_verifies_with_ssh_keygen(cli_chain, tmp_path):
    """Anyone with the public key checks a checkpoint with OpenSSH alone."""
    ssh_keygen = shutil.which("ssh-keygen")
    assert ssh_keygen, "ssh-keygen (openssh-client) is needed for this test"
    shown = run_flask(cli_chain.environ, "audit", "public-key", "--allowed-signers")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("referrals ssh-ed25519 ")
    (tmp_path / "allowed_signers").write_text(shown.stdout)
    [path] = sorted(cli_chain.checkpoints.glob("checkpoint-*.json"))
    envelope = json.loads(path.read_text())
    (tmp_path / "checkpoint.txt").write_text(envelope["checkpoint"])
    (tmp_path / "checkpoint.sig").write_text(envelope["signature"])
    def check(message: bytes):
        return subprocess.run(
            [ssh_keygen, "-Y", "verify", "-f", str(tmp_path / "allowed_signers"), "-I",
             "referrals", "-n", "referrals-audit-checkpoint", "-s",
             str(tmp_path / "checkpoint.sig")],
            input=message, capture_output=True)

    good = check((tmp_path / "checkpoint.txt").read_bytes())
    assert good.returncode == 0, good.stderr
    assert b"Good" in good.stdout
    assert check(envelope["checkpoint"].replace('"seq":', '"seq":1').encode()).returncode != 0
