"""API token scopes: what each allows and which accounts may hold it.

Below the features because both the tokens feature (refusing a scope at creation) and the
identity a token acts as (dropping a scope at use) read it. A token never does more than
its account's roles allow on the pages: a scope is granted only to the kinds and roles that
could do the same thing signed in, checked when the token is made and again on every use,
since roles change after a token is made.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from referrals.core.identity import READERS, WORKERS


@dataclass(frozen=True)
class Scope:
    description: str
    kind: str  # the kind of account that may hold it: staff | agency
    roles: frozenset[str]  # staff roles that may hold it (any one is enough)
    # A staff account with no role at all: an upstream system's account, which exists
    # only to hold its token (it opens no page).
    integration: bool = False


SCOPES: dict[str, Scope] = {
    # Filing an escalation opens a case: what agents and supervisors do, not compliance
    # (reads, approves nothing) or admins (no case content).
    "escalations:write": Scope("File escalations from an upstream detection system", "staff",
                               frozenset(WORKERS), integration=True),
    "cases:read": Scope("Read cases", "staff", frozenset(READERS)),
    "evidence:write": Scope("Upload evidence to cases", "staff", frozenset(WORKERS)),
    "evidence:read": Scope("Download evidence (cleared accounts only for sensitive media)",
                           "staff", frozenset(READERS)),
    "holds:read": Scope("Read preservation holds", "staff", frozenset(READERS)),
    # Compliance review (issue 15): the disclosure log and the transparency report, read by
    # those who read them on the pages.
    "compliance:read": Scope("Read the disclosure log and the transparency report", "staff",
                             frozenset({"compliance", "supervisor"})),
    # Compliance reads the audit log, exports it and has its chain checked; nothing else.
    "audit:read": Scope("Read, export and verify the audit log", "staff",
                        frozenset({"compliance"})),
    "requests:write": Scope("Submit and follow disclosure requests", "agency", frozenset()),
}


def scope_allowed(scope: str, kind: str, roles: Iterable[str]) -> bool:
    """May an account of this kind with these roles hold ``scope``?"""
    rule = SCOPES.get(scope)
    if rule is None or rule.kind != kind:
        return False
    if kind == "agency":
        return True
    roles = set(roles)
    return bool(rule.roles & roles) or (rule.integration and not roles)


def allowed_scopes(scopes: Iterable[str], kind: str, roles: Iterable[str]) -> frozenset[str]:
    roles = frozenset(roles)
    return frozenset(scope for scope in scopes if scope_allowed(scope, kind, roles))
