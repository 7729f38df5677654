"""Evidence access. Media that may be CSAM: bytes only for cleared staff (2258B(c))."""

from referrals.core.policy import Policy, has_role

readers = has_role("agent", "supervisor", "compliance")


def _may_have_bytes(identity, item) -> bool:
    if not readers(identity):
        return False
    if identity.scopes is not None and not identity.has_scope("evidence:read"):
        return False
    return not item.may_be_csam or identity.cleared_for_csam


class EvidencePolicy(Policy):
    rules = {
        "view_metadata": readers,
        "add": has_role("agent", "supervisor"),
        "read_bytes": _may_have_bytes,
    }


evidence_policy = EvidencePolicy()
