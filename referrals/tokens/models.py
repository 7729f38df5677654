"""API tokens: shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.core.scopes import allowed_scopes
from referrals.core.types import UTCDateTime
from referrals.extensions import db


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists, to tell tokens apart
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(255))  # space-separated
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User", foreign_keys=[user_id], lazy="joined")

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    @property
    def expires(self) -> datetime:
        """When it stops working. Tokens made before every token had an expiry end the
        maximum lifetime (REFERRALS_API_TOKEN_MAX_DAYS) after they were made."""
        if self.expires_at is not None:
            return self.expires_at
        settings = current_app.config["REFERRALS_SETTINGS"]
        return self.created_at + timedelta(days=settings.api_token_max_days)

    @property
    def effective_scopes(self) -> frozenset[str]:
        """The scopes its account's kind and roles allow today (roles change after a
        token is made; a scope they no longer allow is dropped, not kept)."""
        return allowed_scopes(self.scope_list, self.user.kind, self.user.role_names)
