"""API tokens: made by an operator or an admin, shown once, kept only as a SHA-256."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import select, text

from referrals.audit.models import AuditEvent
from referrals.core.errors import DomainError, InvalidInput, PermissionDenied
from referrals.core.identity import Identity
from referrals.extensions import db
from referrals.tokens import services
from referrals.tokens.models import ApiToken
from tests.cases.helpers import SYSTEM, audit_events, bearer, escalation
from tests.conftest import csrf_from

SECRET = re.compile(r"rfr_[A-Za-z0-9_-]{43}")


def _token_rows() -> list[tuple]:
    return [tuple(row) for row in db.session.execute(text("SELECT * FROM api_tokens"))]


def _assert_only_the_hash_is_kept(secret: str) -> None:
    rows = _token_rows()
    assert rows, "no token stored"
    for row in rows:
        for value in row:
            assert secret not in str(value)
            assert secret[12:] not in str(value)  # not even the part after the prefix
    assert db.session.scalar(select(ApiToken).where(
        ApiToken.token_hash == hashlib.sha256(secret.encode()).hexdigest())) is not None
    for event in db.session.scalars(select(AuditEvent)):
        assert secret not in (event.after or "") and secret not in (event.before or "")


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def integration(make_user):
    return make_user(None, email="moderation-pipeline@test.example", enrolled=False)


# --- the command line -------------------------------------------------------------------


def test_the_cli_prints_a_token_once_and_keeps_only_its_hash(runner, integration, client):
    result = runner.invoke(args=["tokens", "create", "MODERATION-pipeline@test.example",
                                 "--scope", "escalations:write", "--name", "Hash matcher"])

    assert result.exit_code == 0, result.output
    secrets = SECRET.findall(result.output)
    assert len(secrets) == 1 and result.output.count(secrets[0]) == 1
    secret = secrets[0]
    assert "escalations:write" in result.output and integration.email in result.output
    db.session.expire_all()
    _assert_only_the_hash_is_kept(secret)
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == integration.id))
    assert token.prefix == secret[:12] and token.scope_list == ["escalations:write"]
    assert token.name == "Hash matcher" and token.created_by_id is None
    [event] = audit_events("api_token.created", token.id)
    assert event.actor_kind == "system" and event.actor_label == "cli:tokens create"

    response = client.post("/api/v1/escalations", json=escalation(), headers=bearer(secret))
    assert response.status_code == 201, response.text


def test_the_cli_takes_several_scopes(runner, make_user):
    agent = make_user("agent")
    result = runner.invoke(args=["tokens", "create", agent.email, "--scope", "evidence:read",
                                 "--scope", "cases:read"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == agent.id))
    assert token.scope_list == ["cases:read", "evidence:read"]


@pytest.mark.parametrize("args, message", [
    (["nobody@test.example", "--scope", "escalations:write"], "There is no account nobody@test.example."),
    (["{email}", "--scope", "requests:write"], "The scope requests:write is not for a staff account."),
    (["{email}", "--scope", "everything:admin"], "Unknown scope “everything:admin”."),
    (["{email}"], "Missing option '--scope'"),
])
def test_the_cli_refuses_plainly(runner, integration, args, message):
    args = [a.format(email=integration.email) for a in args]
    result = runner.invoke(args=["tokens", "create", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert not SECRET.search(result.output)
    db.session.expire_all()
    assert _token_rows() == []


def test_the_cli_refuses_a_disabled_account(runner, integration):
    integration.active = False
    db.session.flush()
    result = runner.invoke(args=["tokens", "create", integration.email, "--scope",
                                 "escalations:write"])
    assert result.exit_code != 0 and "That account is disabled." in result.output
    assert _token_rows() == []


# --- the service ------------------------------------------------------------------------


def test_only_admins_and_operators_make_and_revoke_tokens(make_user, integration):
    for role in ("agent", "supervisor", "compliance", "officer"):
        with pytest.raises(PermissionDenied):
            services.create_token(Identity.for_user(make_user(role)), integration,
                                  scopes=["escalations:write"])
    admin = Identity.for_user(make_user("admin"))
    token, secret = services.create_token(admin, integration, scopes=["escalations:write"])
    assert SECRET.fullmatch(secret) and token.created_by_id == admin.user_id
    with pytest.raises(PermissionDenied):
        services.revoke_token(Identity.for_user(make_user("supervisor")), token)
    services.revoke_token(admin, token)
    with pytest.raises(DomainError, match="already revoked"):
        services.revoke_token(admin, token)
    assert services.authenticate(secret) is None


def test_each_token_is_different(integration):
    secrets = {services.create_token(SYSTEM, integration, scopes=["escalations:write"])[1]
               for _ in range(5)}
    assert len(secrets) == 5


@pytest.mark.parametrize("role, scopes, message", [
    ("agent", ["requests:write"], "not for a staff account"),
    ("officer", ["escalations:write"], "not for an agency account"),
    ("officer", ["evidence:read"], "not for an agency account"),
    ("agent", [], "Choose at least one scope."),
    ("agent", ["cases:write"], "Unknown scope"),
])
def test_a_scope_must_suit_the_account(make_user, role, scopes, message):
    with pytest.raises(InvalidInput, match=message):
        services.create_token(SYSTEM, make_user(role), scopes=scopes)
    assert _token_rows() == []


def test_an_officer_may_hold_requests_write(make_user):
    token, _ = services.create_token(SYSTEM, make_user("officer"), scopes=["requests:write"])
    assert token.scope_list == ["requests:write"]


def test_authenticate_refuses_lookalikes(integration):
    _, secret = services.create_token(SYSTEM, integration, scopes=["escalations:write"])
    assert services.authenticate(secret) is not None
    for wrong in (secret.upper(), secret[:-1], secret + "x", secret[4:], "rfr_", "",
                  secret + " " * 300):
        assert services.authenticate(wrong) is None, wrong


# --- the admin pages --------------------------------------------------------------------


def _make_through_the_page(client, **fields):
    page = client.get("/admin/tokens/new")
    assert page.status_code == 200
    data = {"csrf_token": csrf_from(page.text), "name": "Pipeline", **fields}
    return client.post("/admin/tokens/new", data=data)


def test_an_admin_makes_a_token_it_is_shown_once_and_revoke_works(client, as_role, integration):
    as_role("admin")
    response = _make_through_the_page(client, email=integration.email,
                                      scopes=["escalations:write"])
    assert response.status_code == 200
    secret = re.search(r'<p class="secret" id="api-token">([^<]+)</p>', response.text).group(1)
    assert SECRET.fullmatch(secret)
    assert response.headers["Cache-Control"] == "no-store"
    _assert_only_the_hash_is_kept(secret)

    listing = client.get("/admin/tokens/").text
    assert secret not in listing and secret[:12] in listing and integration.email in listing
    assert client.post("/api/v1/escalations", json=escalation(),
                       headers=bearer(secret)).status_code == 201

    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == integration.id))
    revoke = client.post(f"/admin/tokens/{token.id}/revoke",
                         data={"csrf_token": csrf_from(listing)})
    assert revoke.status_code == 302
    assert f"Token {token.prefix}… revoked." in client.get("/admin/tokens/").text
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).revoked_at is not None
    assert audit_events("api_token.revoked", token.id)
    refused = client.post("/api/v1/escalations", json=escalation(), headers=bearer(secret))
    assert refused.status_code == 401

    again = client.post(f"/admin/tokens/{token.id}/revoke",
                        data={"csrf_token": csrf_from(listing)})
    assert again.status_code == 302
    assert "This token is already revoked." in client.get("/admin/tokens/").text


def test_revoking_needs_the_csrf_token(client, as_role, integration):
    as_role("admin")
    token, secret = services.create_token(SYSTEM, integration, scopes=["escalations:write"])
    client.post(f"/admin/tokens/{token.id}/revoke", data={})
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).revoked_at is None
    assert client.post("/admin/tokens/987654/revoke",
                       data={"csrf_token": csrf_from(client.get("/admin/tokens/").text)}
                       ).status_code == 404


@pytest.mark.parametrize("fields, error", [
    ({"email": "moderation-pipeline@test.example", "scopes": ["requests:write"]},
     "The scope requests:write is not for a staff account."),
    ({"email": "moderation-pipeline@test.example"}, "Choose at least one scope."),
    ({"email": "nobody@test.example", "scopes": ["cases:read"]},
     "There is no account with this e-mail address."),
    ({"email": "moderation-pipeline@test.example", "scopes": ["root"]}, "is not a valid choice for this field"),
])
def test_the_admin_page_refuses_what_cannot_be(client, as_role, integration, fields, error):
    as_role("admin")
    response = _make_through_the_page(client, **fields)
    assert response.status_code == 422
    assert error in response.text
    assert not SECRET.search(response.text)
    assert _token_rows() == []


@pytest.mark.parametrize("role, status", [("agent", 403), ("supervisor", 403),
                                          ("compliance", 403), ("officer", 404)])
def test_only_admins_reach_the_token_pages(client, as_role, integration, role, status):
    token, _ = services.create_token(SYSTEM, integration, scopes=["escalations:write"])
    as_role(role)
    assert client.get("/admin/tokens/").status_code == status
    assert client.get("/admin/tokens/new").status_code == status
    assert client.post("/admin/tokens/new", data={"email": integration.email,
                                                  "name": "x", "scopes": ["escalations:write"]}
                       ).status_code in (status, 400)
    assert client.post(f"/admin/tokens/{token.id}/revoke").status_code in (status, 400)
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).revoked_at is None
    assert len(_token_rows()) == 1


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/admin/tokens/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
