"""Who reads the compliance records: compliance reviewers and supervisors read the disclosure
log and the transparency report, and export them (an operator's command on the server too).
QA sampling has its own policy beside its records (``disclosures.qa.qa_policy``)."""

from __future__ import annotations

from referrals.core.policy import Policy, has_role, system_or

READ_ROLES = ("compliance", "supervisor")
readers = has_role(*READ_ROLES)


class CompliancePolicy(Policy):
    rules = {
        "read": readers,
        "export": system_or(readers),
    }


compliance_policy = CompliancePolicy()
