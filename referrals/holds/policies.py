"""Who may do what with a preservation hold.

Agents and supervisors read, place and work holds; compliance reads them. Ending a hold
early (release, or conversion into a production) lets retention reach data that was frozen,
so it is a supervisor's decision. Admins manage accounts, not case content: no access.

An agency officer acts on a hold only through a request in the officer scope
(``requests.scope``: submitted by the officer or shared with them, not merely of the same
agency): ``place_for_request`` when a preservation request arrives, ``renew`` when a renewal
does. A system identity places and snapshots holds for the jobs that do so on their own (the
NCMEC report feature, the snapshot job).
"""

from __future__ import annotations

from referrals.core.policy import Policy, has_role, system_or
from referrals.requests.scope import officer_sees_request

readers = has_role("agent", "supervisor", "compliance")
workers = has_role("agent", "supervisor")
supervisors = has_role("supervisor")


class HoldPolicy(Policy):
    rules = {
        "list": readers,
        "export": readers,  # the expiring-holds CSV
        "view": readers,
        "download": readers,  # the clearance check for sensitive media is evidence's own
        "place": system_or(workers),  # internal and NCMEC holds, from a case
        "place_for_request": lambda identity, request=None: (
            identity.kind == "system" or officer_sees_request(identity, request)),
        "renew": lambda identity, hold=None: (
            identity.kind == "system" or workers(identity)
            or (hold is not None and officer_sees_request(identity, hold.request))),
        "extend": system_or(workers),
        "confirm_production": system_or(workers),
        "review": workers,
        "snapshot": system_or(workers),
        "convert": supervisors,
        "release": supervisors,
    }


hold_policy = HoldPolicy()
