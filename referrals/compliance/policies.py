"""Who may read the compliance records and who works QA findings.

Compliance reviewers and supervisors read the disclosure log and the transparency report.
A compliance reviewer changes nothing but QA: draws samples, records findings, marks a
sample reviewed. Staff answer findings: supervisors assign and close them with a resolution,
the assignee (or a supervisor) responds. Admins manage accounts, not case content.
"""

from __future__ import annotations

from referrals.core.policy import Policy, has_role, system_or

READ_ROLES = ("compliance", "supervisor")
readers = has_role(*READ_ROLES)
reviewers = has_role("compliance")
supervisors = has_role("supervisor")


def _assignee_or_supervisor(identity, finding) -> bool:
    if not identity.is_staff:
        return False
    if identity.has_role("supervisor"):
        return True
    return (identity.has_role("agent") and finding is not None
            and finding.assignee_id == identity.user_id)


class CompliancePolicy(Policy):
    rules = {
        "read": readers,
        "export": system_or(readers),
        "draw": system_or(reviewers),
        "review": reviewers,
        "record_finding": reviewers,
        "assign_finding": supervisors,
        "respond_finding": _assignee_or_supervisor,
        "close_finding": supervisors,
    }


compliance_policy = CompliancePolicy()
