"""Who may do what with a referral.

Agents and supervisors draft, submit, send, acknowledge and withdraw; approving what leaves
is a supervisor's decision, and never the drafter's (``core.two_person``, asked by the
service). Compliance reads. Admins manage accounts, not cases; officers see nothing here.
"""

from __future__ import annotations

from referrals.core.policy import Policy, has_role

readers = has_role("agent", "supervisor", "compliance")
workers = has_role("agent", "supervisor")
supervisors = has_role("supervisor")


class ReferralPolicy(Policy):
    rules = {
        "view": readers,
        "draft": workers,
        "submit": workers,
        "return": supervisors,
        "approve": supervisors,
        "send": workers,
        "acknowledge": workers,
        "withdraw": workers,
    }


referral_policy = ReferralPolicy()
