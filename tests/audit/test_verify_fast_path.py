"""``audit verify`` hashes the canonical text the database writes (``canonical_sql``): it is
byte for byte Python's encoding, and where it is not, the event is checked the Python way
and only a real change fails."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from referrals.audit import services
from referrals.audit.canonical_sql import HASHED
from referrals.audit.services import record_event, verify_chain
from referrals.core.identity import system_identity
from referrals.extensions import db

ACTOR = system_identity("test:audit fast path")

# Characters json.dumps escapes (the quote, the backslash), ones it leaves alone that others
# escape, characters outside ASCII and outside the BMP.
AWKWARD = ('quote " backslash \\ slash / del \x7f nbsp \xa0 line-sep \u2028 para-sep \u2029 '
           'bom \ufeff Zoë 東京 😀 \\u0041 {"k":[1,2]} \\" \\\\"')
# The control characters json.dumps escapes (NUL aside: no text may hold it). PostgreSQL's
# text leaves them raw: such an event is checked the Python way there.
CONTROL = "".join(chr(n) for n in range(1, 32))


def _append_awkward(value: str = AWKWARD) -> list[int]:
    events = [
        record_event(ACTOR, "test.awkward", object_type="test_object", object_id=value[:60],
                     before={"text": value, "n": -7}, after={"list": [value, None, 1.5]}),
        record_event(ACTOR, "test.awkward", object_type=None, object_id=None,
                     before=None, after=value),
        record_event(ACTOR, "test.awkward", object_type="x" * 64, object_id=2**62,
                     agency_id=2**31 - 1, after={"": ""}),
    ]
    db.session.flush()
    return [event.seq for event in events]


@pytest.fixture
def python_check_counted(monkeypatch):
    """Count the events checked the Python way (the database's text did not hash right)."""
    calls = []
    reference = services._reference_digest

    def counted(event_id):
        calls.append(event_id)
        return reference(event_id)

    monkeypatch.setattr(services, "_reference_digest", counted)
    return calls


def _ids(seqs: list[int]) -> set[int]:
    return set(db.session.execute(text("SELECT id FROM audit_events WHERE seq IN "
                                       f"({', '.join(map(str, seqs))})")).scalars())


def test_the_database_writes_the_text_python_hashed(python_check_counted):
    seqs = _append_awkward()
    with_control = _append_awkward(AWKWARD + CONTROL)
    report = verify_chain()
    assert report.ok, report.reason
    # Every event on the fast path but those with control characters (PostgreSQL's).
    assert set(python_check_counted) <= _ids(with_control[:2])
    dialect = db.session.get_bind().dialect.name
    for seq in seqs:
        written = db.session.execute(text(
            f"SELECT {services.canonical_text_sql(dialect)} FROM audit_events "
            "WHERE seq = :seq"), {"seq": seq}).scalar_one()
        row = db.session.execute(text(
            f"SELECT {', '.join(HASHED)} FROM audit_events WHERE seq = :seq"),
            {"seq": seq}).one()
        fields = dict(zip(HASHED, row))
        fields["occurred_at"] = services._utc_text(fields["occurred_at"])
        assert written == services._CANONICAL.encode(fields)


def test_an_edited_event_with_control_characters_is_found():
    seqs = _append_awkward(AWKWARD + CONTROL)
    db.session.execute(text("UPDATE audit_events SET before = :before WHERE seq = :seq"),
                       {"before": '{"n":-7,"text":"' + CONTROL + '"}', "seq": seqs[0]})
    report = verify_chain()
    assert not report.ok
    assert report.bad_seq == seqs[0]
    assert "changed after it was written" in report.reason


def test_an_edited_awkward_event_is_found(python_check_counted):
    seqs = _append_awkward()
    db.session.execute(text("UPDATE audit_events SET after = :after WHERE seq = :seq"),
                       {"after": '"' + AWKWARD.replace("\x7f", "\x7e") + '"', "seq": seqs[1]})
    report = verify_chain()
    assert not report.ok
    assert report.bad_seq == seqs[1]
    assert "changed after it was written" in report.reason
    assert len(python_check_counted) == 1  # the edited one: checked both ways before failing


def test_a_database_that_quotes_differently_is_slower_never_wrong(monkeypatch,
                                                                  python_check_counted):
    """A text that never matches (a database quoting its own way): each event is checked the
    Python way; the intact chain verifies and an edit is still found where it is."""
    monkeypatch.setattr(services, "canonical_text_sql", lambda dialect: "'{}'")
    seqs = _append_awkward()
    report = verify_chain()
    assert report.ok, report.reason
    assert len(python_check_counted) == report.checked
    db.session.execute(text("UPDATE audit_events SET actor_label = 'someone' WHERE seq = :seq"),
                       {"seq": seqs[2]})
    report = verify_chain()
    assert not report.ok
    assert report.bad_seq == seqs[2]
    assert "changed after it was written" in report.reason


def test_the_walk_crosses_a_gap_longer_than_a_batch():
    """Batches are ranges of sequence numbers: a run of deleted events longer than one must
    not end the walk there (it is reported as the missing event it is)."""
    seqs = _append_awkward() + _append_awkward()
    db.session.execute(text("DELETE FROM audit_events WHERE seq IN (:a, :b, :c)"),
                       {"a": seqs[1], "b": seqs[2], "c": seqs[3]})
    walked = [row[0] for row in services._rows_in_order(batch=2)]
    assert walked[-2:] == seqs[-2:]
    assert seqs[0] in walked and not {seqs[1], seqs[2], seqs[3]} & set(walked)
    report = verify_chain()
    assert not report.ok
    assert report.bad_seq == seqs[1]
    assert f"event #{seqs[1]} is missing (the next stored is #{seqs[4]})" in report.reason
