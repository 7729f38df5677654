"""The two-person rule as one policy: who prepared cannot approve; who prepared or collected
cannot release."""

from __future__ import annotations

import pytest

from referrals.core.errors import PermissionDenied
from referrals.core.identity import Identity, system_identity
from referrals.core.two_person import (APPROVE, RELEASE, Participants, require_second_person,
                                       second_person_refusal)

PREPARER, COLLECTOR, OTHER = 11, 12, 13
TOOK_PART = Participants.of(prepared_by=(PREPARER, None), collected_by=(COLLECTOR, None))


def staff(user_id: int) -> Identity:
    return Identity(kind="staff", user_id=user_id, roles=frozenset({"supervisor"}))


def test_the_preparer_cannot_approve_and_nobody_else_is_barred_from_approving():
    assert second_person_refusal(staff(PREPARER), APPROVE, TOOK_PART) == (
        "You prepared these decisions: another supervisor must approve them.")
    assert second_person_refusal(staff(COLLECTOR), APPROVE, TOOK_PART) is None
    assert second_person_refusal(staff(OTHER), APPROVE, TOOK_PART) is None


@pytest.mark.parametrize("user_id", [PREPARER, COLLECTOR])
def test_the_preparer_or_a_collector_cannot_release(user_id):
    with pytest.raises(PermissionDenied, match="another supervisor must review and release it"):
        require_second_person(staff(user_id), RELEASE, TOOK_PART)
    require_second_person(staff(OTHER), RELEASE, TOOK_PART)


def test_an_identity_that_is_nobody_is_never_the_second_person():
    assert second_person_refusal(system_identity("test"), RELEASE, Participants()) is not None
