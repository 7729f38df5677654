"""outside_transaction: slow work runs with no transaction open when the transaction has only
read, and never at the cost of what it has written (or locked, or is about to flush)."""

from __future__ import annotations

from sqlalchemy import select

from referrals.accounts.models import User
from referrals.core.transaction import has_written, outside_transaction
from referrals.extensions import db
from tests import factories


def _open_while_working() -> bool:
    return db.session().get_transaction() is not None


def test_a_transaction_that_only_read_is_let_go_first(app):
    db.session.scalar(select(User.id).limit(1))
    assert db.session().get_transaction() is not None and not has_written()
    assert outside_transaction(_open_while_working) is False


def test_a_transaction_that_has_written_keeps_its_writes(app):
    user = factories.make_user("agent")
    db.session.flush()
    assert has_written()
    assert outside_transaction(_open_while_working) is True
    assert db.session.get(User, user.id) is not None  # not rolled back


def test_changes_waiting_to_be_flushed_count_as_written(app):
    user = factories.make_user("agent")
    db.session.commit()
    user.full_name = "Synthetic Renamed"
    assert has_written()
    outside_transaction(_open_while_working)
    assert user.full_name == "Synthetic Renamed"


def test_a_row_lock_counts_as_written(app):
    db.session.scalar(select(User.id).limit(1).with_for_update())
    assert has_written()
