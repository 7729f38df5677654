"""Officer registration: an official address on a verified agency domain, a confirmed e-mail
(link sent through a real local SMTP server), TOTP set up at first sign-in, and LER approval
before a first submission."""

from __future__ import annotations

import re
import time

import pytest
from passlib.totp import TOTP
from sqlalchemy import select

from referrals.accounts.models import UNCONFIRMED_MESSAGE, User
from referrals.accounts import registration
from referrals.accounts.registration import CONFIRM_MAX_AGE
from tests import factories
from tests.conftest import TEST_PASSWORD, SignIn, csrf_from
from tests.requests.helpers import (after, audit_events, field_errors, flashes, make_agency,
                                    portal_form, post_form, unescape)

GOOD_PASSWORD = "violet tractor umbrella 1987"
CONFIRM_LINK = re.compile(r"https?://[^\s]+/portal/confirm/([A-Za-z0-9._-]+)")


@pytest.fixture
def verified_agency():
    return make_agency("Made-up Harbour Police", domains=["harbour.police.example"],
                       phones=[("+12025550303", "Front desk")])


def register(client, **fields):
    page = client.get("/portal/register")
    assert page.status_code == 200
    data = {"email": "pat.example@harbour.police.example", "full_name": "Pat Example",
            "badge_number": "H-77", "password": GOOD_PASSWORD, "csrf_token": csrf_from(page.text)}
    data.update(fields)
    return client.post("/portal/register", data=data)


def user_by_email(email: str) -> User | None:
    from referrals.extensions import db

    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


def confirm_link_from(mailbox, address: str) -> str:
    [message] = mailbox.to(address)
    assert message["Subject"] == "Confirm your e-mail address"
    match = CONFIRM_LINK.search(mailbox.body(message))
    assert match, mailbox.body(message)
    return "/portal/confirm/" + match.group(1)


def enrol_totp(client) -> str:
    """After the password step: set up an authenticator from the key on the page."""
    page = client.get("/tf-setup")
    assert page.status_code == 200
    page = client.post("/tf-setup", data={"setup": "authenticator",
                                          "csrf_token": csrf_from(page.text)})
    key = re.search(r'id="totp-key">([^<]+)</code>', page.text).group(1).replace(" ", "")
    response = client.post("/tf-validate", data={
        "code": TOTP(key=key, format="base32").generate().token,
        "csrf_token": csrf_from(page.text)})
    assert response.status_code == 302, response.text
    return key


# --- the whole way through ------------------------------------------------------------------


def test_registration_confirmation_totp_and_approval(client, new_client, mailbox,
                                                     verified_agency, make_user):
    address = "pat.example@harbour.police.example"
    response = register(client)
    assert response.status_code == 200
    assert "Check your e-mail" in response.text
    user = user_by_email(address)
    assert user is not None and user.kind == "agency" and user.agency_id == verified_agency.id
    assert user.confirmed_at is None and user.approved_at is None
    assert user.badge_number == "H-77" and user.full_name == "Pat Example"
    assert user.password != GOOD_PASSWORD  # hashed
    [event] = audit_events("account.registered", user.id)
    assert after(event)["agency"] == verified_agency.name

    # The confirmation link arrives by mail.
    link = confirm_link_from(mailbox, address)
    assert mailbox.messages[0]["To"] == address

    # Before confirming: the right password is refused with a plain message.
    signin = SignIn(client)
    refused = signin.password_step(address, GOOD_PASSWORD)
    assert refused.status_code == 200
    assert UNCONFIRMED_MESSAGE in unescape(refused.text)
    assert "/tf-setup" not in refused.headers.get("Location", "")

    # Following the link confirms the address and sends the officer to sign in.
    confirmed = client.get(link)
    assert confirmed.status_code == 302 and confirmed.headers["Location"].endswith("/login")
    assert user_by_email(address).confirmed_at is not None
    assert len(audit_events("account.email_confirmed", user.id)) == 1
    # Following it twice is harmless (and not audited twice).
    assert client.get(link).status_code == 302
    assert len(audit_events("account.email_confirmed", user.id)) == 1

    # Sign-in now asks for an authenticator first, as none is enrolled.
    response = signin.password_step(address, GOOD_PASSWORD)
    assert response.status_code == 302 and "/tf-setup" in response.headers["Location"]
    enrol_totp(client)
    assert user_by_email(address).tf_primary_method == "authenticator"

    # Signed in, but waiting for approval: the portal says so and submission is refused.
    home = client.get("/portal/")
    assert home.status_code == 200
    assert "Waiting for approval" in home.text and 'id="awaiting-approval"' in home.text
    new = client.get("/portal/requests/new")
    assert "Waiting for approval" in new.text
    refused = client.post("/portal/requests/new", data=portal_form(csrf_from(new.text)),
                          content_type="multipart/form-data")
    assert refused.status_code in (200, 422)
    assert ("error", "Your account is waiting for approval by the LER team. You can submit "
            "requests once it is approved.") in flashes(unescape(refused.text))
    assert client.get("/portal/").text.count("No requests yet.") == 1
    assert client.get("/portal/tokens").status_code == 200
    refused_token = post_form(client, "/portal/tokens", data={"name": "Records system"})
    assert "waiting for approval" in unescape(refused_token.text)
    assert 'id="api-token"' not in refused_token.text

    # The pending officer is listed for supervisors, who approve.
    supervisor = make_user("supervisor")
    staff = new_client(supervisor)
    agencies_page = staff.get("/agencies/")
    assert address in agencies_page.text and f'id="approve-{user.id}"' in agencies_page.text
    mailbox.clear()
    approved = post_form(staff, "/agencies/", f"/agencies/officers/{user.id}/approve")
    assert approved.status_code == 302
    approved_user = user_by_email(address)
    assert approved_user.approved_at is not None
    assert approved_user.approved_by_id == supervisor.id
    [event] = audit_events("account.approved", user.id)
    assert event.actor_id == supervisor.id and event.agency_id == verified_agency.id
    [message] = mailbox.to(address)
    assert message["Subject"] == "Your portal account is approved"
    assert "/portal/" in mailbox.body(message)
    assert f'id="approve-{user.id}"' not in staff.get("/agencies/").text  # no longer pending

    # Now the same officer can submit.
    new = client.get("/portal/requests/new")
    assert "Waiting for approval" not in new.text
    submitted = client.post("/portal/requests/new", data=portal_form(csrf_from(new.text)),
                            content_type="multipart/form-data")
    assert submitted.status_code == 302, submitted.text
    assert "/portal/requests/REQ-" in submitted.headers["Location"]


def test_an_agent_cannot_approve_an_officer(new_client, make_user, mailbox, verified_agency):
    officer = make_user("officer", agency=verified_agency, approved_at=None)
    officer.approved_at = None
    agent = new_client(make_user("agent"))
    response = post_form(agent, "/requests/", f"/agencies/officers/{officer.id}/approve")
    assert response.status_code == 403
    assert user_by_email(officer.email).approved_at is None
    assert audit_events("account.approved", officer.id) == []
    assert mailbox.messages == []


def test_approving_twice_or_before_confirmation_is_refused(new_client, make_user, mailbox,
                                                           verified_agency):
    from referrals.extensions import db

    unconfirmed = make_user("officer", agency=verified_agency)
    unconfirmed.approved_at = None
    unconfirmed.confirmed_at = None
    db.session.flush()
    admin = new_client(make_user("admin"))
    response = post_form(admin, "/agencies/", f"/agencies/officers/{unconfirmed.id}/approve")
    page = admin.get(response.headers["Location"])
    assert ("error", "The officer has not confirmed their e-mail address yet.") in flashes(page.text)
    assert user_by_email(unconfirmed.email).approved_at is None

    already = make_user("officer", agency=verified_agency)
    response = post_form(admin, "/agencies/", f"/agencies/officers/{already.id}/approve")
    page = admin.get(response.headers["Location"])
    assert ("error", "This officer is already approved.") in flashes(page.text)
    assert mailbox.messages == []


def test_a_staff_account_cannot_be_approved_as_an_officer(new_client, make_user):
    admin = new_client(make_user("admin"))
    agent = make_user("agent")
    response = post_form(admin, "/agencies/", f"/agencies/officers/{agent.id}/approve")
    page = admin.get(response.headers["Location"])
    assert ("error", "Only agency accounts need approval.") in flashes(page.text)


def test_approving_an_unknown_account_is_404(new_client, make_user):
    admin = new_client(make_user("admin"))
    assert post_form(admin, "/agencies/", "/agencies/officers/999999/approve").status_code == 404


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(("email", "message"), [
    ("pat.example@gmail.com",
     "Use your official agency e-mail address, not a free-mail address."),
    ("pat.example@no-agency-here.example",
     "This address is not on a domain verified for an agency. Ask the LER team to verify your "
     "agency's domain."),
])
def test_registration_refuses_addresses_that_prove_nothing(client, mailbox, verified_agency,
                                                           email, message):
    response = register(client, email=email)
    assert response.status_code == 422
    assert message in field_errors(unescape(response.text))
    assert user_by_email(email) is None
    assert mailbox.messages == []


@pytest.mark.parametrize("status", ["suspended", "pending"])
def test_registration_refuses_a_domain_of_an_agency_that_is_not_verified(client, mailbox, status):
    make_agency(f"Made-up {status} agency", domains=[f"{status}.police.example"], status=status)
    email = f"sam.sample@{status}.police.example"
    response = register(client, email=email)
    assert response.status_code == 422
    assert any("not on a domain verified for an agency" in e
               for e in field_errors(unescape(response.text)))
    assert user_by_email(email) is None
    assert mailbox.messages == []


def test_registration_accepts_a_sub_domain_of_a_verified_domain(client, mailbox, verified_agency):
    response = register(client, email="lee.sample@north.harbour.police.example")
    assert response.status_code == 200
    assert user_by_email("lee.sample@north.harbour.police.example").agency_id == verified_agency.id
    assert len(mailbox.messages) == 1


def test_registration_refuses_a_look_alike_domain(client, mailbox, verified_agency):
    # "evilharbour.police.example" is not a sub-domain of "harbour.police.example".
    response = register(client, email="x@evilharbour.police.example")
    assert response.status_code == 422
    assert mailbox.messages == []


@pytest.mark.parametrize(("password", "message"), [
    ("password1234", "This password is on a list of common passwords. Choose another."),
    ("short pass", "Use at least 12 characters."),
    ("pat.example", "Use at least 12 characters. Do not use your e-mail address as your password."),
])
def test_registration_refuses_weak_passwords(client, mailbox, verified_agency, password, message):
    response = register(client, password=password)
    assert response.status_code == 422
    assert message in field_errors(unescape(response.text))
    assert user_by_email("pat.example@harbour.police.example") is None
    assert mailbox.messages == []


def test_the_common_password_list_is_really_checked():
    from referrals.accounts.passwords import common_passwords

    assert "password1234" in common_passwords()


def test_registering_an_existing_address_looks_the_same_and_sends_nothing(
        client, new_client, mailbox, verified_agency, make_user):
    existing = make_user("officer", agency=verified_agency,
                         email="kim.taken@harbour.police.example")
    before_hash = existing.password

    fresh = register(client, email="new.person@harbour.police.example")
    again = register(new_client(), email="kim.taken@harbour.police.example",
                     password="another long passphrase 99")
    assert fresh.status_code == again.status_code == 200
    assert fresh.text.replace("new.person", "kim.taken") == again.text

    # One mail: to the new address only. The existing account is untouched.
    assert [m["To"] for m in mailbox.messages] == ["new.person@harbour.police.example"]
    assert user_by_email("kim.taken@harbour.police.example").password == before_hash
    assert audit_events("account.registered", existing.id) == []


def test_registering_an_existing_address_in_other_case_sends_nothing(client, mailbox,
                                                                     verified_agency, make_user):
    make_user("officer", agency=verified_agency, email="kim.taken@harbour.police.example")
    response = register(client, email="KIM.TAKEN@Harbour.Police.Example")
    assert response.status_code == 200 and "Check your e-mail" in response.text
    assert mailbox.messages == []


def test_registration_form_needs_a_name_and_a_valid_address(client, mailbox, verified_agency):
    response = register(client, full_name="", email="not-an-address")
    assert response.status_code == 422
    assert mailbox.messages == []


# --- the confirmation link ------------------------------------------------------------------


def test_a_forged_confirmation_link_is_a_plain_404(client, verified_agency):
    for token in ("not-a-token", "eyJmb28iOiJiYXIifQ.AAAAAA.forgedsignature", "x" * 300):
        response = client.get(f"/portal/confirm/{token}")
        assert response.status_code == 404
        assert "This confirmation link is not valid." in response.text
        assert "Traceback" not in response.text


def test_a_link_signed_with_another_key_is_refused(client, app, verified_agency):
    from itsdangerous import URLSafeTimedSerializer

    user = factories.make_user("officer", agency=verified_agency)
    user.confirmed_at = None
    from referrals.extensions import db

    db.session.flush()
    token = URLSafeTimedSerializer("some-other-secret", salt=registration.CONFIRM_SALT) \
        .dumps(user.fs_uniquifier)
    response = client.get(f"/portal/confirm/{token}")
    assert response.status_code == 404
    assert user_by_email(user.email).confirmed_at is None


def test_a_link_for_a_staff_account_is_refused(client, app, make_user):
    staff = make_user("agent")
    with app.test_request_context():
        token = registration._serializer().dumps(staff.fs_uniquifier)
    response = client.get(f"/portal/confirm/{token}")
    assert response.status_code == 404
    assert "This confirmation link is not valid." in response.text


def test_an_expired_confirmation_link_says_so(client, app, monkeypatch, verified_agency):
    import itsdangerous.timed

    user = factories.make_user("officer", agency=verified_agency)
    user.confirmed_at = None
    from referrals.extensions import db

    db.session.flush()
    real_time = time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() - CONFIRM_MAX_AGE - 60)
    with app.test_request_context():
        token = registration._serializer().dumps(user.fs_uniquifier)
    monkeypatch.setattr(itsdangerous.timed.time, "time", real_time)

    response = client.get(f"/portal/confirm/{token}")
    assert response.status_code == 409
    assert "This confirmation link has expired. Register again to get a new one." in response.text
    assert user_by_email(user.email).confirmed_at is None


def test_a_link_just_inside_24_hours_still_works(client, app, monkeypatch, verified_agency):
    import itsdangerous.timed

    user = factories.make_user("officer", agency=verified_agency)
    user.confirmed_at = None
    from referrals.extensions import db

    db.session.flush()
    real_time = time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() - CONFIRM_MAX_AGE + 120)
    with app.test_request_context():
        token = registration._serializer().dumps(user.fs_uniquifier)
    monkeypatch.setattr(itsdangerous.timed.time, "time", real_time)
    assert client.get(f"/portal/confirm/{token}").status_code == 302
    assert user_by_email(user.email).confirmed_at is not None


def test_registering_again_after_an_expired_link_sends_a_fresh_one(client, new_client, mailbox,
                                                                   verified_agency):
    """Regression: the expired-link page says "Register again to get a new one", but
    registering an existing address sent nothing, so an unconfirmed officer was stuck."""
    address = "late.reader@harbour.police.example"
    assert register(client, email=address).status_code == 200
    first_link = confirm_link_from(mailbox, address)
    user = user_by_email(address)
    password_hash = user.password
    mailbox.clear()

    again = register(new_client(), email=address, password="a different passphrase 2026")
    assert again.status_code == 200 and "Check your e-mail" in again.text
    second_link = confirm_link_from(mailbox, address)
    assert second_link.startswith("/portal/confirm/")
    # The account is not changed by whoever registered again.
    assert user_by_email(address).password == password_hash
    assert len(audit_events("account.registered", user.id)) == 1
    assert client.get(second_link).status_code == 302
    assert user_by_email(address).confirmed_at is not None
    assert first_link  # both links name the same account; either confirms it


def test_registering_a_confirmed_address_again_sends_nothing(client, mailbox, verified_agency,
                                                             make_user):
    make_user("officer", agency=verified_agency, email="done@harbour.police.example")
    assert register(client, email="done@harbour.police.example").status_code == 200
    assert mailbox.messages == []


def test_an_unconfirmed_officer_with_a_right_code_still_cannot_sign_in(client, verified_agency):
    user = factories.make_user("officer", agency=verified_agency)
    user.confirmed_at = None
    from referrals.extensions import db

    db.session.flush()
    response = SignIn(client).password_step(user.email, TEST_PASSWORD)
    assert UNCONFIRMED_MESSAGE in unescape(response.text)
    assert client.get("/portal/").status_code == 302  # to the sign-in page
