"""Who is acting. Services take an Identity, never the request or current_user."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import has_request_context
from flask_login import current_user

STAFF_ROLES = ("agent", "supervisor", "compliance", "admin")


@dataclass(frozen=True)
class Identity:
    kind: str  # staff | agency | system | anonymous
    user_id: int | None = None
    label: str = ""
    roles: frozenset[str] = field(default_factory=frozenset)
    agency_id: int | None = None

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def is_agency(self) -> bool:
        return self.kind == "agency"

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @classmethod
    def for_user(cls, user) -> Identity:
        return cls(
            kind=user.kind,
            user_id=user.id,
            label=user.email,
            roles=frozenset(role.name for role in user.roles),
            agency_id=user.agency_id,
        )


ANONYMOUS = Identity(kind="anonymous", label="anonymous")


def system_identity(label: str) -> Identity:
    """A job or command acting on its own (``label`` names it, e.g. 'cli:demo seed')."""
    return Identity(kind="system", label=label)


def current_identity() -> Identity:
    if has_request_context() and current_user and current_user.is_authenticated:
        return Identity.for_user(current_user)
    return ANONYMOUS
