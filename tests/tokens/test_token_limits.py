"""What a token may do and for how long (issue 10, findings 5 and 6).

A token's scope never exceeds what its account's roles allow, checked when it is made and
on every use; disabling an account or changing its password revokes its tokens for good;
every token expires; the lists show the expiry and the last use.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from referrals.accounts import services as accounts
from referrals.accounts.services import ensure_roles
from referrals.audit.models import AuditEvent
from referrals.cases.models import Case
from referrals.core.clock import now
from referrals.core.errors import InvalidInput
from referrals.core.identity import Identity
from referrals.extensions import db
from referrals.tokens import services
from referrals.tokens.models import ApiToken
from tests.cases.helpers import SYSTEM, bearer, escalation, make_token
from tests.conftest import TEST_PASSWORD, csrf_from


def _cases() -> int:
    return db.session.scalar(select(func.count(Case.id)))


def _file(client, secret):
    return client.post("/api/v1/escalations", json=escalation(), headers=bearer(secret))


def _reload(token_id: int) -> ApiToken:
    db.session.expire_all()
    return db.session.get(ApiToken, token_id)


def _revocations(token_id: int) -> list[dict]:
    return [json.loads(e.after) for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "api_token.revoked",
                                 AuditEvent.object_id == str(token_id)))]


# --- finding 5: scope within the roles -----------------------------------------------------


@pytest.mark.parametrize("role", ["compliance", "admin"])
def test_a_compliance_or_admin_account_cannot_get_escalations_write(make_user, role):
    with pytest.raises(InvalidInput, match="goes beyond what this account's roles"):
        services.create_token(SYSTEM, make_user(role), scopes=["escalations:write"])
    assert db.session.scalar(select(func.count(ApiToken.id))) == 0


@pytest.mark.parametrize("role, scope", [("admin", "cases:read"), ("admin", "evidence:read"),
                                         ("compliance", "evidence:write"),
                                         ("admin", "holds:read")])
def test_no_scope_beyond_the_roles(make_user, role, scope):
    with pytest.raises(InvalidInput, match="goes beyond"):
        services.create_token(SYSTEM, make_user(role), scopes=[scope])


def test_the_admin_page_refuses_a_scope_beyond_the_roles(client, as_role, make_user):
    as_role("admin")
    compliance = make_user("compliance")
    page = client.get("/admin/tokens/new")
    response = client.post("/admin/tokens/new", data={
        "csrf_token": csrf_from(page.text), "email": compliance.email, "name": "Reader",
        "scopes": ["escalations:write"]})
    assert response.status_code == 422
    assert "The scope escalations:write goes beyond what this account&#39;s roles" in response.text


def test_a_token_whose_account_became_compliance_opens_no_case(client, make_user):
    agent = make_user("agent")
    secret = make_token(agent, "escalations:write")
    assert _file(client, secret).status_code == 201
    agent.roles = [ensure_roles()["compliance"]]  # roles change after the token was made
    db.session.flush()
    before = _cases()
    response = _file(client, secret)
    assert response.status_code == 403 and response.is_json
    assert _cases() == before


def test_the_upstream_account_without_roles_keeps_escalations_write(client, make_user):
    pipeline = make_user(None, enrolled=False)
    assert _file(client, make_token(pipeline, "escalations:write")).status_code == 201
    with pytest.raises(InvalidInput, match="goes beyond"):
        make_token(pipeline, "cases:read")


# --- finding 6: revoked for good, expiry, last use ---------------------------------------


def test_a_disabled_accounts_tokens_stay_revoked_after_it_is_enabled(client, make_user):
    pipeline = make_user(None, enrolled=False)
    secret = make_token(pipeline, "escalations:write")
    token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == pipeline.id))
    admin = Identity.for_user(make_user("admin"))
    accounts.disable_user(admin, pipeline)
    assert _reload(token_id).revoked_at is not None
    assert _revocations(token_id) == [{"prefix": secret[:12], "reason": "account disabled"}]
    accounts.enable_user(admin, pipeline)
    assert _file(client, secret).status_code == 401
    assert _reload(token_id).revoked_at is not None


def test_a_password_reset_revokes_the_tokens(client, make_user):
    agent = make_user("agent")
    secret = make_token(agent, "cases:read")
    accounts.reset_password(Identity.for_user(make_user("admin")), agent)
    assert client.get("/api/v1/cases/CASE-1999-000001", headers=bearer(secret)).status_code == 401


def test_changing_ones_own_password_revokes_ones_tokens(client, as_role):
    agent = as_role("agent")
    secret = make_token(agent, "cases:read")
    token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == agent.id))
    new = "the ferry leaves at seven sharp"
    page = client.get("/account/password")
    assert client.post("/account/password", data={
        "password": TEST_PASSWORD, "new_password": new, "new_password_confirm": new,
        "csrf_token": csrf_from(page.text)}).status_code == 302
    assert _reload(token_id).revoked_at is not None
    assert _revocations(token_id)[0]["reason"] == "password changed"
    assert client.get("/api/v1/cases/CASE-1999-000001", headers=bearer(secret)).status_code == 401


def test_every_new_token_expires_after_the_default(app, make_user, frozen):
    moment = frozen(now())
    token, _ = services.create_token(SYSTEM, make_user("agent"), scopes=["cases:read"])
    days = app.config["REFERRALS_SETTINGS"].api_token_days
    assert token.expires_at == moment + timedelta(days=days)


def test_an_expiry_beyond_the_maximum_is_refused(app, make_user):
    max_days = app.config["REFERRALS_SETTINGS"].api_token_max_days
    with pytest.raises(InvalidInput, match=f"at most {max_days} days"):
        services.create_token(SYSTEM, make_user("agent"), scopes=["cases:read"],
                              expires_at=now() + timedelta(days=max_days + 1))
    with pytest.raises(InvalidInput, match="in the future"):
        services.create_token(SYSTEM, make_user("agent"), scopes=["cases:read"],
                              expires_at=now() - timedelta(minutes=1))


def test_a_token_made_before_expiries_ends_after_the_maximum(app, client, make_user, frozen):
    pipeline = make_user(None, enrolled=False)
    secret = make_token(pipeline, "escalations:write")
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == pipeline.id))
    token.expires_at = None  # as rows made before this change are
    db.session.flush()
    max_days = app.config["REFERRALS_SETTINGS"].api_token_max_days
    frozen(token.created_at + timedelta(days=max_days, seconds=1))
    assert _file(client, secret).status_code == 401


def test_the_admin_list_shows_expiry_and_last_use(client, as_role, make_user):
    as_role("admin")
    pipeline = make_user(None, enrolled=False)
    secret = make_token(pipeline, "escalations:write")
    listing = client.get("/admin/tokens/").text
    assert "<th>Expires</th>" in listing and "<th>Last used</th>" in listing
    assert "Never" in listing
    _file(client, secret)
    assert "Never" not in client.get("/admin/tokens/").text


def test_the_admin_page_sets_the_expiry_in_days(client, as_role, make_user):
    as_role("admin")
    pipeline = make_user(None, enrolled=False)
    page = client.get("/admin/tokens/new")
    assert 'name="expires_at"' in page.text and 'value="90"' in page.text
    response = client.post("/admin/tokens/new", data={
        "csrf_token": csrf_from(page.text), "email": pipeline.email, "name": "Short-lived",
        "scopes": ["escalations:write"], "expires_at": "7"})
    assert response.status_code == 200
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == pipeline.id))
    assert timedelta(days=6, hours=23) < token.expires_at - token.created_at <= timedelta(days=7)
    page = client.get("/admin/tokens/new")
    response = client.post("/admin/tokens/new", data={
        "csrf_token": csrf_from(page.text), "email": pipeline.email, "name": "Too long",
        "scopes": ["escalations:write"], "expires_at": "4000"})
    assert response.status_code == 422 and "A token lives at most 365 days." in response.text
