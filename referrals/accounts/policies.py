from referrals.core.policy import Policy, has_role, system_or

admin = system_or(has_role("admin"))


class AccountPolicy(Policy):
    rules = {
        "list": admin,
        "create": admin,
        "change_access": admin,
        "unlock": admin,
        "disable": admin,
        "reset_credentials": admin,
    }


account_policy = AccountPolicy()
