"""Who may do what with a case. Admins manage accounts, not case content."""

from referrals.core.policy import Policy, has_role

case_workers = has_role("agent", "supervisor")
case_readers = has_role("agent", "supervisor", "compliance")


def _may_take(identity, case) -> bool:
    return case_workers(identity) and case is not None and case.assignee_id is None


class CasePolicy(Policy):
    rules = {
        "list": case_readers,
        "view": case_readers,
        "open": case_workers,
        "take": _may_take,
        "assign": has_role("supervisor"),
        "change_status": case_workers,
        "add_note": case_workers,
        "set_due": case_workers,
        "edit_subjects": case_workers,
        "add_evidence": case_workers,
    }


case_policy = CasePolicy()
