"""Password rules, after NIST SP 800-63B: length, not common, no composition rules."""

from __future__ import annotations

import gzip
from functools import lru_cache
from importlib import resources

from flask import current_app
from flask_security import PasswordUtil


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The bundled list of about 20,000 common passwords (see README for its source)."""
    data = resources.files("referrals.accounts").joinpath("data/common-passwords.txt.gz")
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


def password_problems(password: str, *, email: str | None = None) -> list[str]:
    settings = current_app.config["REFERRALS_SETTINGS"]
    problems = []
    if len(password) < settings.password_length_min:
        problems.append(f"Use at least {settings.password_length_min} characters.")
    if len(password) > settings.password_length_max:
        problems.append(f"Use at most {settings.password_length_max} characters.")
    lowered = password.lower()
    if lowered in common_passwords():
        problems.append("This password is on a list of common passwords. Choose another.")
    if email and (lowered == email.lower() or lowered == email.split("@")[0].lower()):
        problems.append("Do not use your e-mail address as your password.")
    return problems


class ReferralsPasswordUtil(PasswordUtil):
    """Flask-Security's hook for validating new passwords (change and reset)."""

    def validate(self, password: str, is_register: bool, **kwargs):
        normalized = self.normalize(password)
        user = kwargs.get("user")
        email = kwargs.get("email") or getattr(user, "email", None)
        problems = password_problems(normalized, email=email)
        return (problems or None), normalized
