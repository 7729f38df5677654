"""Who may do what with a CyberTipline report.

Agents and supervisors draft, confirm, send and retract; compliance reads. The drafter never
confirms (the two-person rule, ``core.two_person``): a second person looks at what is about
to leave, including which files no one here has viewed. Admins manage accounts, not cases.
"""

from __future__ import annotations

from referrals.core.policy import Policy, has_role, system_or

readers = has_role("agent", "supervisor", "compliance")
workers = has_role("agent", "supervisor")


class NcmecPolicy(Policy):
    rules = {
        "view": readers,
        "draft": workers,
        "confirm": workers,
        "submit": workers,
        "retract": workers,
        "record": system_or(workers),  # the send job records what NCMEC answered
    }


ncmec_policy = NcmecPolicy()
