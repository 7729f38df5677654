"""Accounts: staff users with roles, and agency officers tied to one agency.

Both kinds live in one table so that one sign-in (Flask-Security-Too, with
TOTP) serves both; ``kind`` keeps them apart everywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from flask import current_app
from flask_security import RoleMixin, UserMixin
from sqlalchemy import (Boolean, CheckConstraint, Column, ForeignKey, Index, Integer, String, Table,
                        Text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.audit.labels import register_labels
from referrals.core.clock import now
from referrals.core.guards import AGENCY_SUSPENDED_MESSAGE
from referrals.core.types import UTCDateTime
from referrals.extensions import db

USER_KINDS = ("staff", "agency")

roles_users = Table(
    "roles_users",
    db.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", Integer, ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)


class Role(db.Model, RoleMixin):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")

    def __repr__(self) -> str:
        return f"<Role {self.name}>"


class User(db.Model, UserMixin):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("kind IN ('staff', 'agency')", name="kind"),
        CheckConstraint(
            "(kind = 'agency' AND agency_id IS NOT NULL) OR (kind = 'staff' AND agency_id IS NULL)",
            name="agency_matches_kind",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    fs_uniquifier: Mapped[str] = mapped_column(String(64), unique=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16), default="staff")
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    # 18 U.S.C. 2258B(c): as few people as possible may see media that may be CSAM.
    cleared_for_csam: Mapped[bool] = mapped_column(Boolean, default=False)
    password_change_required: Mapped[bool] = mapped_column(Boolean, default=False)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")  # IANA name, for display
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # Agency officers: LER staff approve an account before its first submission.
    badge_number: Mapped[str] = mapped_column(String(64), default="")
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The agency's e-mail domains when the officer was approved: a re-confirmation asks for a
    # staff approval again when they have changed since (accounts/reconfirmation.py).
    approved_domains: Mapped[str] = mapped_column(Text, default="")
    # The periodic re-confirmation: when its link was last sent (None: none outstanding).
    reconfirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Suspended pending review (e.g. the officer's domain left the .gov registry): no
    # sign-in until staff lift it. The reason is what the officer is told.
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_reason: Mapped[str] = mapped_column(String(300), default="")

    # Lockout: consecutive failures inside a window, then locked until an admin unlocks.
    failed_sign_in_count: Mapped[int] = mapped_column(Integer, default=0)
    first_failed_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Flask-Security-Too trackable
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    current_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_ip: Mapped[str | None] = mapped_column(String(64))
    current_login_ip: Mapped[str | None] = mapped_column(String(64))
    login_count: Mapped[int | None] = mapped_column(Integer, default=0)

    # Flask-Security-Too two-factor (TOTP only); the secret is encrypted by passlib.
    tf_primary_method: Mapped[str | None] = mapped_column(String(64))
    tf_totp_secret: Mapped[str | None] = mapped_column(Text)
    tf_phone_number: Mapped[str | None] = mapped_column(String(64))
    # The last TOTP time step accepted, so that each code works once.
    totp_last_counter: Mapped[int | None] = mapped_column(Integer)

    roles: Mapped[list[Role]] = relationship(
        secondary=roles_users, lazy="selectin", order_by=Role.name
    )
    agency = relationship("Agency", lazy="joined")
    approved_by = relationship("User", remote_side=[id], foreign_keys=[approved_by_id])

    @property
    def is_locked_out(self) -> bool:
        """Locked by failed sign-ins, until an administrator unlocks it (CJIS 5.9.5 AC-7) or,
        only where REFERRALS_LOCKOUT_RELEASE_MINUTES is set, until that time has passed."""
        if self.locked_at is None:
            return False
        release_after = current_app.config["REFERRALS_SETTINGS"].lockout_release_after
        return release_after is None or now() - self.locked_at < release_after

    @property
    def agency_suspended(self) -> bool:
        """An officer whose agency is not (or no longer) verified: no sign-in, page or token."""
        return self.kind == "agency" and (self.agency is None or self.agency.status != "verified")

    def is_locked(self, form_error: list[str] | None = None) -> bool:
        """Flask-Security asks this after the password has been verified."""
        if self.kind == "agency" and self.confirmed_at is None:
            message = UNCONFIRMED_MESSAGE
        elif self.agency_suspended:
            message = AGENCY_SUSPENDED_MESSAGE
        elif self.kind == "agency" and self.suspended_at is not None:
            message = OFFICER_SUSPENDED_MESSAGE.format(reason=self.suspended_reason)
        elif self.is_locked_out:
            message = LOCKED_MESSAGE
        else:
            return False
        if form_error is not None:
            form_error.append(message)
        return True

    # What counts a failure and locks the account (accounts.services.record_failed_sign_in,
    # set by accounts.sign_in: the services import this module, not the other way round).
    failed_sign_in_recorder: ClassVar[Callable[..., None] | None] = None

    def track_failed_authn(self, auth_type: str, tfa: bool = False) -> None:
        """Flask-Security calls this on every wrong password or code."""
        if User.failed_sign_in_recorder is not None:
            User.failed_sign_in_recorder(self, reason="code" if tfa else auth_type)

    @property
    def role_names(self) -> list[str]:
        return [role.name for role in self.roles]

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class SignInFailure(db.Model):
    """One wrong password or code, or a sign-in as an account that does not exist: where it
    came from and when. The admin page shows an account's; the count per client address
    limits how many accounts one source can lock."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_ip_at", "ip", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                                index=True)
    email: Mapped[str] = mapped_column(String(255))  # as typed, for unknown accounts
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    reason: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


LOCKED_MESSAGE = (
    "This account is locked after too many failed sign-ins. "
    "Ask an administrator to unlock it."
)
OFFICER_SUSPENDED_MESSAGE = (
    "Your account is suspended while the LER team reviews it: {reason} "
    "They will contact you; for an emergency, call the LER team's published number."
)
UNCONFIRMED_MESSAGE = (
    "Confirm your e-mail address first: follow the link in the message we sent you."
)


# The audit log names people, not user ids.
register_labels("user", User.id, User.email, object_types=("user",), fields=(
    "user_id", "assignee_id", "actor_id", "owner_id", "approved_by_id", "prepared_by_id",
    "released_by_id", "created_by_id", "placed_by_id", "done_by_id", "reviewer_id"))
