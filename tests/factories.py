"""Factories for synthetic test data: made-up people and agencies only."""

from __future__ import annotations

import itertools
import time
import uuid

import factory
from flask_security import hash_password
from passlib.totp import TOTP

from referrals.accounts.models import User
from referrals.accounts.services import ensure_roles
from referrals.agencies.models import Agency
from referrals.core.clock import now
from referrals.extensions import db

PASSWORD = "correct horse battery staple 42"
_counter = itertools.count(1)
_keys: dict[int, str] = {}


class SessionFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class AgencyFactory(SessionFactory):
    class Meta:
        model = Agency

    name = factory.Sequence(lambda n: f"Test Agency {n}")
    kind = "law_enforcement"
    country = "US"
    status = "verified"
    created_at = factory.LazyFunction(now)


def _totp_key() -> str:
    return TOTP.new().base32_key


def make_user(role: str | None = "agent", *, agency: Agency | None = None, enrolled=True,
              password: str = PASSWORD, **fields) -> User:
    """A staff user with ``role`` (or an officer when role is 'officer'), TOTP enrolled."""
    from flask_security.proxies import _security

    n = next(_counter)
    kind = "agency" if role == "officer" else "staff"
    if kind == "agency" and agency is None:
        agency = AgencyFactory()
    user = User(
        email=fields.pop("email", f"{role or 'user'}{n}@test.example"),
        full_name=fields.pop("full_name", f"Test Person {n}"),
        password=hash_password(password),
        active=True,
        fs_uniquifier=uuid.uuid4().hex,
        kind=kind,
        agency_id=agency.id if agency else None,
        failed_sign_in_count=0,
        created_at=now(),
        **fields,
    )
    if kind == "agency":
        user.confirmed_at = fields.get("confirmed_at", now())
        user.approved_at = fields.get("approved_at", now())
    if kind == "staff" and role:
        user.roles = [ensure_roles()[r] for r in role.split("+")]
    if enrolled:
        key = _totp_key()
        totp = _security.totp_factory._totp(key=key, format="base32")
        user.tf_totp_secret = totp.to_json(encrypt=True)
        user.tf_primary_method = "authenticator"
        user.totp_key = key  # plain attribute, for tests to compute codes
    db.session.add(user)
    db.session.flush()
    if enrolled:
        _keys[user.id] = key
    return user


def totp_code(user: User, offset_steps: int = 0) -> str:
    """The user's current code (or the one ``offset_steps`` time steps away)."""
    # Real time, not the test clock: passlib checks codes against the wall clock.
    key = _keys[user.id]
    moment = time.time() + 30 * offset_steps
    return TOTP(key=key, format="base32").generate(time=moment).token
