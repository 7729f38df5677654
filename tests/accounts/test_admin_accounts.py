"""Admin account management: create, change access, disable/enable, who may do it."""

import json
import re

import pytest
from passlib.totp import TOTP
from sqlalchemy import select

from referrals.accounts import services
from referrals.accounts.models import User
from referrals.audit.models import AuditEvent
from referrals.core.errors import DomainError, PermissionDenied
from referrals.core.identity import Identity, system_identity
from referrals.extensions import db
from tests import factories
from tests.conftest import SignIn, csrf_from

NEW_PASSWORD = "lanterns glow over the quiet harbour"


def _reload(user_id):
    db.session.expire_all()
    return db.session.get(User, user_id)


def _events(action, user_id):
    return list(db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == action, AuditEvent.object_id == str(user_id))
        .order_by(AuditEvent.seq)
    ))


def _user_by_email(email):
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


@pytest.fixture
def other_client(app, client):
    """A second browser (``client`` first, so it is our Client class with its own context)."""
    other = app.test_client()
    other.environ_base["HTTP_REFERER"] = "https://localhost/"
    return other


@pytest.fixture
def admin(as_role):
    return as_role("admin")


def _create(client, **fields):
    page = client.get("/admin/accounts/new")
    assert page.status_code == 200
    data = {"email": "new.agent@test.example", "full_name": "New Agent",
            "roles": ["agent"], "csrf_token": csrf_from(page.text)}
    data.update(fields)
    return client.post("/admin/accounts/new", data=data)


def _save_access(client, user_id, roles, cleared_for_csam=False):
    page = client.get(f"/admin/accounts/{user_id}")
    assert page.status_code == 200
    data = {"roles": roles, "csrf_token": csrf_from(page.text)}
    if cleared_for_csam:
        data["cleared_for_csam"] = "y"
    return client.post(f"/admin/accounts/{user_id}", data=data)


def _confirm(client, user_id, action):
    page = client.get(f"/admin/accounts/{user_id}")
    return client.post(f"/admin/accounts/{user_id}/{action}",
                       data={"csrf_token": csrf_from(page.text)})


def _flashes(client, user_id):
    return client.get(f"/admin/accounts/{user_id}").text


# --- who may manage accounts -------------------------------------------------------------


ADMIN_URLS = ["/admin/accounts/", "/admin/accounts/new", "/admin/accounts/{id}"]


@pytest.mark.parametrize("role", ["agent", "supervisor", "compliance", "agent+supervisor"])
@pytest.mark.parametrize("url", ADMIN_URLS)
def test_other_staff_roles_get_403(client, as_role, make_user, role, url):
    target = make_user("agent")
    as_role(role)
    assert client.get(url.format(id=target.id)).status_code == 403


@pytest.mark.parametrize("role", ["agent", "supervisor", "compliance"])
@pytest.mark.parametrize("action", ["unlock", "disable", "enable", "reset-password",
                                    "reset-two-factor", ""])
def test_other_staff_roles_cannot_post_account_actions(client, as_role, make_user, role, action):
    target = make_user("agent")
    as_role(role)
    token = csrf_from(client.get("/dashboard").text)
    url = f"/admin/accounts/{target.id}/{action}".rstrip("/")
    response = client.post(url, data={"csrf_token": token, "roles": ["admin"]})
    assert response.status_code == 403
    target = _reload(target.id)
    assert target.active and target.role_names == ["agent"]


@pytest.mark.parametrize("url", ADMIN_URLS)
def test_agency_officer_gets_404(client, as_role, make_user, url):
    target = make_user("agent")
    as_role("officer")
    assert client.get(url.format(id=target.id)).status_code == 404


def test_agency_officer_post_gets_404(client, as_role, make_user):
    target = make_user("agent")
    officer = as_role("officer")
    token = csrf_from(client.get("/portal/").text)
    response = client.post(f"/admin/accounts/{target.id}/disable", data={"csrf_token": token})
    assert response.status_code == 404
    assert _reload(target.id).active
    assert officer.kind == "agency"


@pytest.mark.parametrize("url", ADMIN_URLS)
def test_anonymous_is_sent_to_sign_in(client, make_user, url):
    target = make_user("agent")
    response = client.get(url.format(id=target.id))
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_admin_sees_the_account_list(client, admin, make_user):
    other = make_user("agent")
    page = client.get("/admin/accounts/")
    assert page.status_code == 200
    assert other.email in page.text and admin.email in page.text


def test_unknown_account_id_is_404(client, admin):
    assert client.get("/admin/accounts/999999").status_code == 404


def test_services_refuse_a_non_admin_identity(make_user):
    agent = make_user("agent")
    target = make_user("agent")
    with pytest.raises(PermissionDenied):
        services.disable_user(Identity.for_user(agent), target)
    with pytest.raises(PermissionDenied):
        services.create_staff_user(Identity.for_user(agent), email="x.y@test.example",
                                   full_name="X", roles=["admin"])


# --- creating a staff account -------------------------------------------------------------


def test_admin_creates_a_staff_account_and_sees_a_one_time_password(client, admin):
    response = _create(client, email="new.agent@Test.Example", full_name="New Agent",
                       roles=["agent", "supervisor"], cleared_for_csam="y")
    assert response.status_code == 200
    match = re.search(r'id="one-time-password">([^<]+)</p>', response.text)
    assert match
    initial = match.group(1)
    assert len(initial) >= 16

    user = _user_by_email("new.agent@test.example")  # the domain is lower-cased
    assert user is not None
    assert user.kind == "staff"
    assert user.role_names == ["agent", "supervisor"]
    assert user.cleared_for_csam is True
    assert user.password_change_required is True
    assert user.password.startswith("$argon2")
    assert initial not in user.password
    assert user.tf_totp_secret is None  # enrols an authenticator at first sign-in

    [event] = _events("account.created", user.id)
    assert event.actor_id == admin.id
    after = json.loads(event.after)
    assert after["roles"] == ["agent", "supervisor"]
    assert after["cleared_for_csam"] is True
    # The one-time password never reaches the audit trail.
    assert initial not in (event.after or "")


def test_one_time_password_is_shown_once(client, admin):
    response = _create(client)
    initial = re.search(r'id="one-time-password">([^<]+)</p>', response.text).group(1)
    user = _user_by_email("new.agent@test.example")
    assert initial not in client.get(f"/admin/accounts/{user.id}").text
    assert initial not in client.get("/admin/accounts/").text


def test_new_user_enrols_an_authenticator_and_must_change_the_password(
    client, admin, other_client
):
    response = _create(client, email="first.timer@test.example", roles=["agent"])
    initial = re.search(r'id="one-time-password">([^<]+)</p>', response.text).group(1)
    user_id = _user_by_email("first.timer@test.example").id

    newcomer = SignIn(other_client)
    response = newcomer.password_step("first.timer@test.example", initial)
    assert response.status_code == 302
    assert "/tf-setup" in response.headers["Location"]

    page = other_client.get("/tf-setup")
    assert page.status_code == 200
    page = other_client.post("/tf-setup", data={"setup": "authenticator",
                                                 "csrf_token": csrf_from(page.text)})
    assert page.status_code == 200
    key = re.search(r'id="totp-key">([^<]+)</code>', page.text).group(1).replace(" ", "")
    code = TOTP(key=key, format="base32").generate().token
    response = other_client.post("/tf-validate",
                                 data={"code": code, "csrf_token": csrf_from(page.text)})
    assert response.status_code == 302

    # Signed in, but every page leads to the change-password page.
    for path in ("/", "/dashboard"):
        response = other_client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/account/password")
    page = other_client.get("/account/password")
    assert "You signed in with a one-time password" in page.text
    response = other_client.post("/account/password", data={
        "password": initial, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD,
        "csrf_token": csrf_from(page.text),
    })
    assert response.status_code == 302
    assert other_client.get("/dashboard").status_code == 200

    user = _reload(user_id)
    assert user.password_change_required is False
    assert user.tf_totp_secret is not None
    actions = [e.action for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_id == str(user_id)).order_by(AuditEvent.seq))]
    assert actions.index("account.created") < actions.index("sign_in.succeeded")
    assert "account.two_factor_enrolled" in actions
    assert "account.password_changed" in actions


def test_duplicate_email_is_refused_on_the_form(client, admin, make_user):
    existing = make_user("agent", email="taken.name@test.example")
    response = _create(client, email="Taken.Name@TEST.example", full_name="Someone Else")
    assert response.status_code == 422
    assert "An account with this e-mail address already exists." in response.text
    assert 'id="one-time-password"' not in response.text
    count = db.session.scalar(
        select(db.func.count(User.id)).where(db.func.lower(User.email) == "taken.name@test.example"))
    assert count == 1
    assert _events("account.created", existing.id) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "not-an-address"}, "Enter an e-mail address such as name@example.org."),
        ({"roles": []}, "Choose at least one role."),
        ({"full_name": ""}, "This field is required."),
        ({"roles": ["superuser"]}, "not a valid choice"),
    ],
)
def test_invalid_new_account_is_refused_on_the_form(client, admin, fields, message):
    before = db.session.scalar(select(db.func.count(User.id)))
    response = _create(client, **fields)
    assert response.status_code == 422
    assert message in response.text
    assert "Traceback" not in response.text
    assert db.session.scalar(select(db.func.count(User.id))) == before


def test_creating_an_account_needs_a_csrf_token(client, admin):
    response = client.post("/admin/accounts/new", data={
        "email": "no.token@test.example", "full_name": "No Token", "roles": ["admin"]})
    assert response.status_code == 400
    assert _user_by_email("no.token@test.example") is None


# --- changing access ---------------------------------------------------------------------


def test_admin_changes_roles_and_it_is_audited_with_before_and_after(client, admin, make_user):
    user = make_user("agent")
    response = _save_access(client, user.id, ["agent", "supervisor"], cleared_for_csam=True)
    assert response.status_code == 302
    user = _reload(user.id)
    assert user.role_names == ["agent", "supervisor"]
    assert user.cleared_for_csam is True

    [event] = _events("account.access_changed", user.id)
    assert event.actor_id == admin.id
    before, after = json.loads(event.before), json.loads(event.after)
    assert before["roles"] == ["agent"] and before["cleared_for_csam"] is False
    assert after["roles"] == ["agent", "supervisor"] and after["cleared_for_csam"] is True


def test_changing_roles_ends_the_users_open_session(client, admin, make_user, other_client):
    user = make_user("agent")
    SignIn(other_client)(user)
    assert other_client.get("/dashboard").status_code == 200
    uniquifier = user.fs_uniquifier

    assert _save_access(client, user.id, ["compliance"]).status_code == 302
    assert _reload(user.id).fs_uniquifier != uniquifier
    response = other_client.get("/dashboard")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_removing_a_role_takes_effect_at_once(client, admin, make_user, other_client):
    user = make_user("agent+compliance")
    SignIn(other_client)(user)
    assert other_client.get("/audit/").status_code == 200
    _save_access(client, user.id, ["agent"])
    assert other_client.get("/audit/").status_code == 302
    SignIn(other_client).password_step(user.email)
    SignIn(other_client).code_step(factories.totp_code(user, offset_steps=1))
    assert other_client.get("/audit/").status_code == 403


def test_access_change_with_no_role_is_refused(client, admin, make_user):
    user = make_user("agent")
    response = _save_access(client, user.id, [])
    assert response.status_code == 422
    assert "Choose at least one role." in response.text
    assert _reload(user.id).role_names == ["agent"]
    assert _events("account.access_changed", user.id) == []


def test_access_form_needs_a_csrf_token(client, admin, make_user):
    user = make_user("agent")
    response = client.post(f"/admin/accounts/{user.id}", data={"roles": ["admin"]})
    assert response.status_code == 400
    assert _reload(user.id).role_names == ["agent"]


def test_last_active_admin_cannot_lose_the_admin_role(make_user):
    # Only an operator's command can reach this now: an administrator changing another
    # administrator leaves itself, and nobody changes their own access.
    admin = make_user("admin")
    with pytest.raises(DomainError, match="This is the last active administrator; keep the "
                                          "admin role."):
        services.change_access(system_identity("test"), admin, roles=["agent"],
                               cleared_for_csam=False)
    assert _reload(admin.id).role_names == ["admin"]
    assert _events("account.access_changed", admin.id) == []


def test_an_admin_steps_down_through_another_admin(client, admin, make_user):
    other = make_user("admin")
    assert services.change_access(Identity.for_user(other), admin, roles=["agent"],
                                  cleared_for_csam=False)
    assert _reload(admin.id).role_names == ["agent"]


def test_a_disabled_admin_does_not_count_as_another_admin(make_user):
    admin, other_admin = make_user("admin"), make_user("admin")
    services.disable_user(Identity.for_user(admin), other_admin)
    with pytest.raises(DomainError, match="last active administrator"):
        services.change_access(system_identity("test"), admin, roles=["agent"],
                               cleared_for_csam=False)


# --- nobody changes their own access (issue 10, finding 5) --------------------------------


def test_admin_cannot_grant_itself_case_roles_or_media_clearance(client, admin):
    response = _save_access(client, admin.id, ["admin", "agent"], cleared_for_csam=True)
    assert response.status_code == 422
    assert ("You cannot change your own roles or clearance: another administrator must "
            "make that change.") in response.text
    user = _reload(admin.id)
    assert user.role_names == ["admin"] and not user.cleared_for_csam
    assert _events("account.access_changed", admin.id) == []


def test_admin_cannot_change_own_access_through_the_service(make_user):
    admin = make_user("admin")
    with pytest.raises(DomainError, match="another administrator must make that change"):
        services.change_access(Identity.for_user(admin), admin, roles=["admin"],
                               cleared_for_csam=True)
    assert not _reload(admin.id).cleared_for_csam


def test_own_account_page_offers_no_access_form(client, admin, make_user):
    page = client.get(f"/admin/accounts/{admin.id}").text
    assert 'id="save-access"' not in page and 'name="roles"' not in page
    assert "another administrator must change its roles or clearance" in page
    other = client.get(f"/admin/accounts/{make_user('agent').id}").text
    assert 'id="save-access"' in other


def test_a_second_admin_grants_the_change(client, admin, make_user):
    other = make_user("admin")
    services.change_access(Identity.for_user(other), admin, roles=["admin", "agent"],
                           cleared_for_csam=True)
    user = _reload(admin.id)
    assert user.role_names == ["admin", "agent"] and user.cleared_for_csam
    [event] = _events("account.access_changed", admin.id)
    assert event.actor_id == other.id


def test_agency_accounts_have_no_staff_roles(make_user):
    admin = make_user("admin")
    officer = make_user("officer")
    with pytest.raises(DomainError):
        services.change_access(Identity.for_user(admin), officer, roles=["admin"],
                               cleared_for_csam=True)


# --- disable and enable ------------------------------------------------------------------


def test_disable_and_enable_are_audited(client, admin, make_user):
    user = make_user("agent")
    response = _confirm(client, user.id, "disable")
    assert response.status_code == 302
    assert not _reload(user.id).active
    [disabled] = _events("account.disabled", user.id)
    assert disabled.actor_id == admin.id
    assert json.loads(disabled.before)["active"] is True
    assert json.loads(disabled.after)["active"] is False

    response = _confirm(client, user.id, "enable")
    assert response.status_code == 302
    assert _reload(user.id).active
    [enabled] = _events("account.enabled", user.id)
    assert json.loads(enabled.before)["active"] is False
    assert json.loads(enabled.after)["active"] is True


def test_disabling_ends_the_users_open_session(client, admin, make_user, other_client):
    user = make_user("agent")
    SignIn(other_client)(user)
    assert other_client.get("/dashboard").status_code == 200
    _confirm(client, user.id, "disable")
    response = other_client.get("/dashboard")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_disabled_user_cannot_sign_in_until_enabled(client, admin, make_user, other_client):
    user = make_user("agent")
    _confirm(client, user.id, "disable")
    newcomer = SignIn(other_client)
    assert newcomer.password_step(user.email).status_code == 200
    _confirm(client, user.id, "enable")
    newcomer(user)
    assert other_client.get("/dashboard").status_code == 200


def test_admin_cannot_disable_their_own_account(client, admin):
    response = _confirm(client, admin.id, "disable")
    assert response.status_code == 302
    assert _reload(admin.id).active
    assert "You cannot disable your own account." in client.get(response.headers["Location"]).text
    assert _events("account.disabled", admin.id) == []


def test_last_active_admin_cannot_be_disabled(make_user):
    # Only possible from the command line: in the web an admin cannot disable themself.
    only_admin = make_user("admin")
    db.session.execute(db.update(User).where(User.id != only_admin.id).values(active=False))
    with pytest.raises(DomainError, match="last active administrator"):
        services.disable_user(system_identity("cli:test"), _reload(only_admin.id))
    assert _reload(only_admin.id).active


def test_disabling_twice_says_so_plainly(client, admin, make_user):
    user = make_user("agent")
    _confirm(client, user.id, "disable")
    response = _confirm(client, user.id, "disable")
    assert response.status_code == 302
    assert "This account is already disabled." in client.get(response.headers["Location"]).text
    assert len(_events("account.disabled", user.id)) == 1


def test_disable_needs_a_csrf_token(client, admin, make_user):
    user = make_user("agent")
    response = client.post(f"/admin/accounts/{user.id}/disable", data={})
    assert response.status_code == 400
    assert _reload(user.id).active


# --- resets ------------------------------------------------------------------------------


def test_password_reset_gives_a_new_one_time_password_and_ends_sessions(
    client, admin, make_user, other_client
):
    user = make_user("agent")
    SignIn(other_client)(user)
    response = _confirm(client, user.id, "reset-password")
    assert response.status_code == 200
    initial = re.search(r'id="one-time-password">([^<]+)</p>', response.text).group(1)
    assert other_client.get("/dashboard").status_code == 302
    assert _reload(user.id).password_change_required is True
    [event] = _events("account.password_reset", user.id)
    assert initial not in (event.after or "") and initial not in (event.before or "")


def test_two_factor_reset_makes_the_user_enrol_again(client, admin, make_user, other_client):
    user = make_user("agent")
    response = _confirm(client, user.id, "reset-two-factor")
    assert response.status_code == 302
    assert _reload(user.id).tf_totp_secret is None
    assert _events("account.two_factor_reset", user.id)
    response = SignIn(other_client).password_step(user.email)
    assert "/tf-setup" in response.headers["Location"]
