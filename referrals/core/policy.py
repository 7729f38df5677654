"""Permission checks in pairs: ``can`` answers, ``require`` raises.

A policy lists its rules by action name. An action with no rule is denied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from referrals.core.errors import PermissionDenied
from referrals.core.identity import Identity

Rule = Callable[[Identity, Any], bool]


def has_role(*roles: str) -> Rule:
    return lambda identity, obj=None: identity.is_staff and identity.has_role(*roles)


def system_or(rule: Rule) -> Rule:
    """Also allowed to a system identity: an operator's command run on the server."""
    return lambda identity, obj=None: identity.kind == "system" or rule(identity, obj)


class Policy:
    rules: dict[str, Rule] = {}

    def can(self, identity: Identity, action: str, obj: Any = None) -> bool:
        rule = self.rules.get(action)
        return bool(rule and rule(identity, obj))

    def allowed(self, identity: Identity, obj: Any = None) -> frozenset[str]:
        """Every action of this policy the identity may take on ``obj``: for a page that
        asks about the same object many times (a button per row)."""
        return frozenset(action for action in self.rules if self.can(identity, action, obj))

    def require(self, identity: Identity, action: str, obj: Any = None) -> None:
        if not self.can(identity, action, obj):
            raise PermissionDenied("Your account does not have permission to do that.")
