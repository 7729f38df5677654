"""Creating, revoking and checking API tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from referrals.accounts.models import User
from referrals.accounts.registration import require_approved
from referrals.accounts.signals import credentials_revoked
from referrals.audit.services import record_event
from referrals.core.bookkeeping import note
from referrals.core.clock import now
from referrals.core.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from referrals.core.guards import AGENCY_SUSPENDED_MESSAGE
from referrals.core.identity import Identity
from referrals.core.policy import Policy, has_role, system_or
from referrals.core.scopes import SCOPES, scope_allowed
from referrals.extensions import db
from referrals.tokens.models import ApiToken

TOKEN_PREFIX = "rfr_"
# How exactly a token's last use is kept: one write a minute at most, however busy it is.
LAST_USE_PRECISION = timedelta(minutes=1)


class TokenPolicy(Policy):
    rules = {"create": system_or(has_role("admin")), "revoke": system_or(has_role("admin"))}


token_policy = TokenPolicy()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _settings():
    return current_app.config["REFERRALS_SETTINGS"]


def token_expiry(expires_at: datetime | None) -> datetime:
    """When a new token stops working: the default lifetime, or a chosen time no later than
    the maximum (``REFERRALS_API_TOKEN_DAYS`` / ``REFERRALS_API_TOKEN_MAX_DAYS``)."""
    settings = _settings()
    moment = now()
    if expires_at is None:
        return moment + timedelta(days=settings.api_token_days)
    if expires_at <= moment:
        raise InvalidInput("Choose an expiry in the future.", field="expires_at")
    if expires_at > moment + timedelta(days=settings.api_token_max_days):
        raise InvalidInput(f"A token lives at most {settings.api_token_max_days} days.",
                           field="expires_at")
    return expires_at


def _check_scopes(user: User, scopes: list[str]) -> None:
    if not scopes:
        raise InvalidInput("Choose at least one scope.", field="scopes")
    for scope in scopes:
        if scope not in SCOPES:
            raise InvalidInput(f"Unknown scope “{scope}”. Known: {', '.join(SCOPES)}.",
                               field="scopes")
        if SCOPES[scope].kind != user.kind:
            raise InvalidInput(f"The scope {scope} is not for "
                               f"{'an' if user.kind[0] in 'aeiou' else 'a'} {user.kind} account.",
                               field="scopes")
        if not scope_allowed(scope, user.kind, user.role_names):
            roles = ", ".join(user.role_names) or "no role"
            raise InvalidInput(f"The scope {scope} goes beyond what this account's roles "
                               f"({roles}) allow.", field="scopes")


def create_token(actor: Identity, user: User, *, scopes: Iterable[str], name: str = "",
                 expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Make a token for ``user``; returns the record and the token, shown only once."""
    token_policy.require(actor, "create")
    scopes = sorted(set(scopes))
    _check_scopes(user, scopes)
    if not user.active:
        raise DomainError("That account is disabled.")
    expires_at = token_expiry(expires_at)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=(name or "").strip()[:100] or "API token",
                     prefix=secret[:12], token_hash=hash_token(secret), scopes=" ".join(scopes),
                     created_at=now(), created_by_id=actor.user_id, expires_at=expires_at)
    db.session.add(token)
    db.session.flush()
    record_event(actor, "api_token.created", object_type="api_token", object_id=token.id,
                 agency_id=user.agency_id,
                 after={"user_id": user.id, "scopes": scopes, "prefix": token.prefix,
                        "name": token.name, "expires_at": expires_at.isoformat()})
    return token, secret


def revoke_token(actor: Identity, token: ApiToken, *, reason: str = "revoked") -> ApiToken:
    token_policy.require(actor, "revoke")
    if token.revoked_at is not None:
        raise DomainError("This token is already revoked.")
    token.revoked_at = now()
    db.session.flush()
    record_event(actor, "api_token.revoked", object_type="api_token", object_id=token.id,
                 agency_id=token.user.agency_id, after={"prefix": token.prefix, "reason": reason})
    return token


@credentials_revoked.connect
def revoke_account_tokens(user: User, *, actor: Identity, reason: str) -> list[ApiToken]:
    """Disabling an account or changing its password revokes its tokens for good: enabling
    it again does not bring them back (accounts sends the signal, in the same transaction)."""
    live = list(db.session.scalars(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).order_by(ApiToken.id)))
    moment = now()
    for token in live:
        token.revoked_at = moment
    db.session.flush()
    for token in live:
        record_event(actor, "api_token.revoked", object_type="api_token", object_id=token.id,
                     agency_id=user.agency_id, after={"prefix": token.prefix, "reason": reason})
    return live


def get_token(token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("There is no such token.")
    return token


def tokens_for_listing() -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc())))


def authenticate(secret: str) -> ApiToken | None:
    """The live token for this secret, or None (unknown, revoked, expired, disabled account).

    A sign-in lockout does not stop a token: five wrong passwords from anyone would
    otherwise stop an upstream pipeline (tokens have their own rate limit and revocation).
    An officer of a suspended agency is told so (PermissionDenied)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None:
        return None
    moment = now()
    if token.expires <= moment or not token.user.active:
        return None
    if token.user.agency_suspended:
        raise PermissionDenied(AGENCY_SUSPENDED_MESSAGE)
    # Bookkeeping, written after the request's own transaction (referrals.core.bookkeeping):
    # the token's row is never locked while a request runs, so requests with the same token
    # run side by side; and at most once a minute (every request would otherwise write).
    if token.last_used_at is None or moment - token.last_used_at >= LAST_USE_PRECISION:
        note(_record_use, token.id, moment)
    return token


def _record_use(token_id: int, moment) -> None:
    db.session.execute(update(ApiToken).where(
        ApiToken.id == token_id,
        or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < moment),
    ).values(last_used_at=moment))


def create_officer_token(actor: Identity, *, name: str) -> tuple[ApiToken, str]:
    """An approved officer makes a token for their own account: it sees what they see."""
    if not actor.is_agency or actor.scopes is not None:
        raise DomainError("Officers make their own tokens from the portal.")
    require_approved(actor)
    user = db.session.get(User, actor.user_id)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=(name or "").strip()[:100] or "API token",
                     prefix=secret[:12], token_hash=hash_token(secret), scopes="requests:write",
                     created_at=now(), created_by_id=user.id, expires_at=token_expiry(None))
    db.session.add(token)
    db.session.flush()
    record_event(actor, "api_token.created", object_type="api_token", object_id=token.id,
                 agency_id=user.agency_id,
                 after={"user_id": user.id, "scopes": ["requests:write"], "prefix": token.prefix,
                        "name": token.name, "expires_at": token.expires_at.isoformat()})
    return token, secret


def officer_tokens(actor: Identity) -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == actor.user_id)
                                   .order_by(ApiToken.created_at.desc())))
