"""Creating, revoking and checking API tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update

from referrals.accounts.models import User
from referrals.accounts.registration import require_approved
from referrals.audit.services import record_event
from referrals.core.clock import now
from referrals.core.errors import DomainError, InvalidInput, NotFound
from referrals.core.identity import Identity
from referrals.core.policy import Policy, has_role, system_or
from referrals.core.transaction import before_commit
from referrals.extensions import db
from referrals.tokens.models import ApiToken

TOKEN_PREFIX = "rfr_"
# Scope → (what it allows, which kind of account may hold it)
SCOPES = {
    "escalations:write": ("File escalations from an upstream detection system", "staff"),
    "cases:read": ("Read cases", "staff"),
    "evidence:write": ("Upload evidence to cases", "staff"),
    "evidence:read": ("Download evidence (cleared accounts only for sensitive media)", "staff"),
    "holds:read": ("Read preservation holds", "staff"),
    "requests:write": ("Submit and follow disclosure requests", "agency"),
}


class TokenPolicy(Policy):
    rules = {"create": system_or(has_role("admin")), "revoke": system_or(has_role("admin"))}


token_policy = TokenPolicy()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(actor: Identity, user: User, *, scopes: Iterable[str], name: str = "",
                 expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Make a token for ``user``; returns the record and the token, shown only once."""
    token_policy.require(actor, "create")
    scopes = sorted(set(scopes))
    if not scopes:
        raise InvalidInput("Choose at least one scope.", field="scopes")
    for scope in scopes:
        if scope not in SCOPES:
            raise InvalidInput(f"Unknown scope “{scope}”. Known: {', '.join(SCOPES)}.",
                               field="scopes")
        if SCOPES[scope][1] != user.kind:
            raise InvalidInput(f"The scope {scope} is not for "
                               f"{'an' if user.kind[0] in 'aeiou' else 'a'} {user.kind} account.",
                               field="scopes")
    if not user.active:
        raise DomainError("That account is disabled.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=(name or "").strip()[:100] or "API token",
                     prefix=secret[:12], token_hash=hash_token(secret), scopes=" ".join(scopes),
                     created_at=now(), created_by_id=actor.user_id, expires_at=expires_at)
    db.session.add(token)
    db.session.flush()
    record_event(actor, "api_token.created", object_type="api_token", object_id=token.id,
                 agency_id=user.agency_id,
                 after={"user_id": user.id, "scopes": scopes, "prefix": token.prefix,
                        "name": token.name})
    return token, secret


def revoke_token(actor: Identity, token: ApiToken) -> ApiToken:
    token_policy.require(actor, "revoke")
    if token.revoked_at is not None:
        raise DomainError("This token is already revoked.")
    token.revoked_at = now()
    db.session.flush()
    record_event(actor, "api_token.revoked", object_type="api_token", object_id=token.id,
                 agency_id=token.user.agency_id, after={"prefix": token.prefix})
    return token


def get_token(token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("There is no such token.")
    return token


def tokens_for_listing() -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc())))


def authenticate(secret: str) -> ApiToken | None:
    """The live token for this secret, or None (revoked, expired, disabled or locked user)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None:
        return None
    moment = now()
    if token.expires_at is not None and token.expires_at <= moment:
        return None
    if not token.user.active or token.user.locked_at is not None:
        return None
    # Written with the request's commit, not now: a request's reads must not start its
    # writes (an upload stages its file before the transaction writes; see
    # referrals.core.transaction.outside_transaction).
    before_commit(_record_use, token.id, moment)
    return token


def _record_use(token_id: int, moment) -> None:
    db.session.execute(update(ApiToken).where(ApiToken.id == token_id)
                       .values(last_used_at=moment))


def create_officer_token(actor: Identity, *, name: str) -> tuple[ApiToken, str]:
    """An approved officer makes a token for their own account: it sees what they see."""
    if not actor.is_agency or actor.scopes is not None:
        raise DomainError("Officers make their own tokens from the portal.")
    require_approved(actor)
    user = db.session.get(User, actor.user_id)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=(name or "").strip()[:100] or "API token",
                     prefix=secret[:12], token_hash=hash_token(secret), scopes="requests:write",
                     created_at=now(), created_by_id=user.id)
    db.session.add(token)
    db.session.flush()
    record_event(actor, "api_token.created", object_type="api_token", object_id=token.id,
                 agency_id=user.agency_id,
                 after={"user_id": user.id, "scopes": ["requests:write"], "prefix": token.prefix,
                        "name": token.name})
    return token, secret


def officer_tokens(actor: Identity) -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == actor.user_id)
                                   .order_by(ApiToken.created_at.desc())))
