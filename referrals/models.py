"""Every model, imported in one place for Alembic and Flask-Security."""

from referrals.accounts.models import Role, User, roles_users  # noqa: F401
from referrals.agencies.models import Agency  # noqa: F401
from referrals.audit.models import AuditChainHead, AuditEvent  # noqa: F401
