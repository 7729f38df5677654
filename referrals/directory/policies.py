"""Who may read and change the directory."""

from referrals.core.policy import Policy, has_role, system_or


class DirectoryPolicy(Policy):
    rules = {
        "read": system_or(has_role("admin", "supervisor", "agent", "compliance")),
        # Loading the registry is an operator's job (the CLI, the daily refresh).
        "import": system_or(has_role("admin")),
        "manage": system_or(has_role("admin", "supervisor")),
    }


directory_policy = DirectoryPolicy()
