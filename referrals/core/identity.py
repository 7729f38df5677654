"""Who is acting. Services take an Identity, never the request or current_user."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from flask import g, has_request_context
from flask_login import current_user

STAFF_ROLES = ("agent", "supervisor", "compliance", "admin")
# Who reads case work (cases, requests, holds) and who does it; admins manage accounts only.
READERS = ("agent", "supervisor", "compliance")
WORKERS = ("agent", "supervisor")


@dataclass(frozen=True)
class Identity:
    kind: str  # staff | agency | system | anonymous
    user_id: int | None = None
    label: str = ""
    roles: frozenset[str] = field(default_factory=frozenset)
    agency_id: int | None = None
    # Set when acting through an API token: what the token allows (None: a signed-in person).
    scopes: frozenset[str] | None = None
    # 18 U.S.C. 2258B(c): may see media that may be child sexual abuse material.
    cleared_for_csam: bool = False

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def is_agency(self) -> bool:
        return self.kind == "agency"

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def has_scope(self, scope: str) -> bool:
        return self.scopes is not None and scope in self.scopes

    @classmethod
    def for_token(cls, token) -> Identity:
        return replace(cls.for_user(token.user), scopes=token.effective_scopes,
                       label=f"{token.user.email} (token {token.prefix})")

    @classmethod
    def for_user(cls, user) -> Identity:
        return cls(
            kind=user.kind,
            user_id=user.id,
            label=user.email,
            roles=frozenset(role.name for role in user.roles),
            agency_id=user.agency_id,
            cleared_for_csam=bool(user.cleared_for_csam) and user.kind == "staff",
        )


ANONYMOUS = Identity(kind="anonymous", label="anonymous")


def system_identity(label: str) -> Identity:
    """A job or command acting on its own (``label`` names it, e.g. 'cli:demo seed')."""
    return Identity(kind="system", label=label)


def current_identity() -> Identity:
    if has_request_context() and g.get("api_identity") is not None:
        return g.api_identity
    if has_request_context() and current_user and current_user.is_authenticated:
        return Identity.for_user(current_user)
    return ANONYMOUS
