"""The agency registry (/agencies/): who may manage it, what it accepts (domains, call-back
numbers, public keys), and the audit trail of every change."""

from __future__ import annotations


import pyrage
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from sqlalchemy import select

from referrals.agencies import services
from referrals.agencies.models import Agency, AgencyKey
from referrals.agencies.validation import normalize_domain, parse_public_key
from referrals.core.errors import InvalidInput, NotFound, PermissionDenied
from referrals.core.identity import system_identity
from referrals.extensions import db
from tests.conftest import csrf_from
from tests.requests.helpers import (after, as_identity, audit_events, before, field_errors,
                                    flashes, make_agency, post_form, unescape)

BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
AGE_REFUSED = ("That age key is not valid: copy it again from the file age-keygen wrote "
               "(age1… with 58 more characters).")


def age_key() -> str:
    """A valid age X25519 recipient (its Bech32 checksum right)."""
    return str(pyrage.x25519.Identity.generate().to_public())


def age_key_with_a_bad_checksum() -> str:
    """A real recipient with its last character changed: it looks right, pyrage refuses it."""
    key = age_key()
    return key[:-1] + next(c for c in BECH32 if c != key[-1])


def ssh_ed25519_key(comment: str = "") -> str:
    key = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return f"{key} {comment}".strip()


def ssh_rsa_key() -> str:
    return generate_private_key(public_exponent=65537, key_size=1024).public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def agency_form(**overrides) -> dict:
    data = {"name": "Made-up Coastal Police", "kind": "law_enforcement", "country": "us",
            "legal_entity": "us", "status": "verified",
            "domains": "coastal.police.example\nCoastal-Ops.Police.Example.",
            "phones": "+1 202 555 0144 Duty desk\n(202) 555-0145 Night desk",
            "notes": "Made-up notes"}
    data.update(overrides)
    return data


def create(browser, **overrides):
    return post_form(browser, "/agencies/new", data=agency_form(**overrides))


def agency_named(name: str) -> Agency | None:
    db.session.expire_all()
    return db.session.scalar(select(Agency).where(Agency.name == name))


# --- who may manage -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "supervisor"])
def test_managers_create_an_agency_with_domains_and_phones(new_client, make_user, role):
    manager = make_user(role)
    browser = new_client(manager)
    response = create(browser)
    assert response.status_code == 302, response.text
    agency = agency_named("Made-up Coastal Police")
    assert response.headers["Location"].endswith(f"/agencies/{agency.id}")
    assert agency.country == "US" and agency.status == "verified"
    assert [d.domain for d in agency.domains] == ["coastal-ops.police.example",
                                                  "coastal.police.example"]
    assert [(p.number, p.label) for p in agency.phones] == [("+12025550144", "Duty desk"),
                                                            ("+12025550145", "Night desk")]
    [event] = audit_events("agency.created", agency.id)
    assert event.actor_id == manager.id and event.agency_id == agency.id
    assert after(event)["domains"] == ["coastal-ops.police.example", "coastal.police.example"]
    assert after(event)["phones"] == ["+12025550144", "+12025550145"]
    page = browser.get("/agencies/")
    assert "Made-up Coastal Police" in page.text and "coastal.police.example" in page.text


@pytest.mark.parametrize("role", ["agent", "compliance"])
def test_agents_and_compliance_get_403(new_client, make_user, role):
    agency = make_agency("Made-up Existing Agency", domains=["existing.police.example"])
    browser = new_client(make_user(role))
    csrf = csrf_from(browser.get("/requests/").text)
    for method, path, data in [
            ("GET", "/agencies/", None), ("GET", "/agencies/new", None),
            ("POST", "/agencies/new", agency_form()),
            ("GET", f"/agencies/{agency.id}", None),
            ("POST", f"/agencies/{agency.id}", agency_form(name="Renamed")),
            ("POST", f"/agencies/{agency.id}/keys", {"public_key": age_key()}),
            ("POST", f"/agencies/{agency.id}/keys/1/remove", {}),
            ("POST", "/agencies/officers/1/approve", {})]:
        if method == "GET":
            response = browser.get(path)
        else:
            response = browser.post(path, data={"csrf_token": csrf, **data})
        assert response.status_code == 403, (role, path)
    assert agency_named("Made-up Coastal Police") is None
    assert agency_named("Made-up Existing Agency") is not None
    assert audit_events("agency.created") == audit_events("agency.updated") == []


def test_officers_get_404(new_client, officer_a, agency_a):
    browser = new_client(officer_a)
    csrf = csrf_from(browser.get("/portal/").text)
    assert browser.get("/agencies/").status_code == 404
    assert browser.get(f"/agencies/{agency_a.id}").status_code == 404
    assert browser.post("/agencies/new", data={"csrf_token": csrf, **agency_form()}).status_code \
        == 404
    assert browser.post(f"/agencies/{agency_a.id}/keys",
                        data={"csrf_token": csrf, "public_key": age_key()}).status_code == 404
    assert agency_named("Made-up Coastal Police") is None


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/agencies/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_services_check_the_policy_too(make_user):
    with pytest.raises(PermissionDenied):
        services.create_agency(as_identity(make_user("agent")), **agency_form())
    with pytest.raises(PermissionDenied):
        services.create_agency(as_identity(make_user("compliance")), **agency_form())
    # An operator's command on the server may.
    agency = services.create_agency(system_identity("cli:test"), **agency_form())
    assert agency.id is not None


# --- what is refused ------------------------------------------------------------------------


@pytest.mark.parametrize(("overrides", "message"), [
    ({"domains": "not a domain"},
     "“not a domain” is not an e-mail domain such as police.example.gov."),
    ({"domains": "police..example"},
     "“police..example” is not an e-mail domain such as police.example.gov."),
    ({"domains": "localhost"}, "“localhost” is not an e-mail domain such as police.example.gov."),
    ({"domains": "gmail.com"}, "gmail.com is a free-mail domain: anyone can have an address there."),
    ({"domains": "@Outlook.com"},
     "outlook.com is a free-mail domain: anyone can have an address there."),
    ({"phones": "not-a-number Desk"}, "“not-a-number” is not a phone number."),
    ({"phones": "+1 2 Desk"}, "“+1 2” is not a phone number."),
    ({"phones": "+1 202 555 01 Desk"}, "“+1 202 555 01” is not a possible phone number."),
    ({"country": "USA"}, "Field cannot be longer than 2 characters."),
    ({"country": "1"}, "Give the two-letter country code (ISO 3166), e.g. US, GB, DE."),
    ({"name": ""}, "This field is required."),
])
def test_bad_agency_details_are_refused_plainly(new_client, make_user, overrides, message):
    browser = new_client(make_user("admin"))
    response = create(browser, **overrides)
    assert response.status_code == 422
    assert message in field_errors(unescape(response.text))
    assert agency_named(overrides.get("name") or "Made-up Coastal Police") is None
    assert audit_events("agency.created") == []


def test_the_phone_example_on_the_form_is_accepted(new_client, make_user):
    """Regression: a line was split at its first space, so "+1 202 555 0100 Duty desk" (the
    form's own example) was read as the number "+1" and refused."""
    browser = new_client(make_user("admin"))
    page = browser.get("/agencies/new")
    assert 'placeholder="+1 202 555 0100 Duty desk"' in page.text
    response = create(browser, phones="+1 202 555 0100 Duty desk\n+44 20 7946 0018 24h desk\n"
                                      "+353 1 555 0100")
    assert response.status_code == 302, field_errors(unescape(response.text))
    agency = agency_named("Made-up Coastal Police")
    assert [(p.number, p.label) for p in agency.phones] == [
        ("+12025550100", "Duty desk"), ("+442079460018", "24h desk"), ("+35315550100", "")]
    # The edit page shows them in a form that reads back the same.
    edit = browser.get(f"/agencies/{agency.id}")
    response = browser.post(f"/agencies/{agency.id}", data={
        "csrf_token": csrf_from(edit.text),
        **agency_form(phones=edit.text.split('name="phones"')[1].split(">", 1)[1]
                      .split("</textarea>")[0])})
    assert response.status_code == 302
    assert [(p.number, p.label) for p in agency_named("Made-up Coastal Police").phones] == [
        ("+12025550100", "Duty desk"), ("+442079460018", "24h desk"), ("+35315550100", "")]


def test_a_domain_of_another_agency_is_refused(new_client, make_user):
    make_agency("Made-up First Owner", domains=["shared.police.example"])
    browser = new_client(make_user("supervisor"))
    response = create(browser, domains="Shared.Police.Example")
    assert response.status_code == 422
    assert "shared.police.example is already verified for Made-up First Owner." in \
        field_errors(unescape(response.text))
    assert agency_named("Made-up Coastal Police") is None


def test_a_second_agency_with_the_same_name_is_refused(new_client, make_user):
    make_agency("Made-up Coastal Police")
    browser = new_client(make_user("admin"))
    response = create(browser, name="made-up COASTAL police", domains="")
    assert response.status_code == 422
    assert "Another agency has this name." in field_errors(response.text)


@pytest.mark.parametrize("value", ["gmail.com", "sub.gmail.com.", " Yahoo.co.uk ",
                                   "mailinator.com"])
def test_normalize_domain_refuses_free_mail_and_names_under_it(value):
    # The free-mail lists come from maintained packages; a name under a provider's counts too.
    with pytest.raises(InvalidInput, match="free-mail"):
        normalize_domain(value)


def test_normalize_domain():
    assert normalize_domain(" Police.Example.GOV. ") == "police.example.gov"


# --- editing --------------------------------------------------------------------------------


def test_editing_an_agency_is_audited_with_before_and_after(new_client, make_user):
    agency = make_agency("Made-up Editable Agency", domains=["old.police.example"],
                         phones=[("+12025550150", "Old desk")])
    supervisor = make_user("supervisor")
    browser = new_client(supervisor)
    page = browser.get(f"/agencies/{agency.id}")
    assert "old.police.example" in page.text and "+12025550150 Old desk" in page.text
    response = browser.post(f"/agencies/{agency.id}", data={
        "csrf_token": csrf_from(page.text), **agency_form(
            name="Made-up Edited Agency", status="suspended", confirm_suspend="y",
            domains="old.police.example\nnew.police.example", phones="+12025550151 New desk")})
    assert response.status_code == 302
    edited = agency_named("Made-up Edited Agency")
    assert edited.status == "suspended"
    assert [d.domain for d in edited.domains] == ["new.police.example", "old.police.example"]
    assert [p.number for p in edited.phones] == ["+12025550151"]
    [event] = audit_events("agency.updated", agency.id)
    assert event.actor_id == supervisor.id
    assert before(event)["name"] == "Made-up Editable Agency"
    assert after(event)["name"] == "Made-up Edited Agency"
    assert before(event)["status"] == "verified" and after(event)["status"] == "suspended"
    assert before(event)["phones"] == ["+12025550150"] and after(event)["phones"] == ["+12025550151"]


def test_suspending_through_the_page_asks_first(new_client, make_user):
    agency = make_agency("Made-up Careful Agency", domains=["careful.police.example"])
    browser = new_client(make_user("admin"))
    page = browser.get(f"/agencies/{agency.id}")
    assert 'name="confirm_suspend"' not in page.text  # not asked until it is wanted
    data = {"csrf_token": csrf_from(page.text), **agency_form(
        name="Made-up Careful Agency", status="suspended", domains="careful.police.example")}
    asked = browser.post(f"/agencies/{agency.id}", data=data)
    assert asked.status_code == 422
    assert "Suspend Made-up Careful Agency?" in unescape(asked.text)
    assert 'name="confirm_suspend"' in asked.text
    assert agency_named("Made-up Careful Agency").status == "verified"
    assert audit_events("agency.updated", agency.id) == []
    confirmed = browser.post(f"/agencies/{agency.id}", data={**data, "confirm_suspend": "y"})
    assert confirmed.status_code == 302
    assert agency_named("Made-up Careful Agency").status == "suspended"


def test_other_edits_and_lifting_a_suspension_need_no_confirmation(new_client, make_user):
    agency = make_agency("Made-up Lifted Agency", domains=["lifted.police.example"],
                         status="suspended")
    browser = new_client(make_user("admin"))
    page = browser.get(f"/agencies/{agency.id}")
    response = browser.post(f"/agencies/{agency.id}", data={
        "csrf_token": csrf_from(page.text), **agency_form(
            name="Made-up Lifted Agency", status="suspended", domains="lifted.police.example",
            notes="Still suspended, notes edited")})
    assert response.status_code == 302
    response = browser.post(f"/agencies/{agency.id}", data={
        "csrf_token": csrf_from(page.text), **agency_form(
            name="Made-up Lifted Agency", status="verified", domains="lifted.police.example")})
    assert response.status_code == 302
    assert agency_named("Made-up Lifted Agency").status == "verified"


def test_an_agency_keeps_its_own_domain_on_edit(new_client, make_user):
    agency = make_agency("Made-up Keeper", domains=["keep.police.example"])
    browser = new_client(make_user("admin"))
    page = browser.get(f"/agencies/{agency.id}")
    response = browser.post(f"/agencies/{agency.id}", data={
        "csrf_token": csrf_from(page.text), **agency_form(name="Made-up Keeper",
                                                          domains="keep.police.example")})
    assert response.status_code == 302
    assert [d.domain for d in agency_named("Made-up Keeper").domains] == ["keep.police.example"]


def test_a_refused_edit_changes_nothing(new_client, make_user):
    make_agency("Made-up Other Owner", domains=["taken.police.example"])
    agency = make_agency("Made-up Target Agency", domains=["mine.police.example"])
    browser = new_client(make_user("admin"))
    page = browser.get(f"/agencies/{agency.id}")
    response = browser.post(f"/agencies/{agency.id}", data={
        "csrf_token": csrf_from(page.text), **agency_form(
            name="Made-up Target Agency", domains="mine.police.example\ntaken.police.example")})
    assert response.status_code == 422
    assert [d.domain for d in agency_named("Made-up Target Agency").domains] == \
        ["mine.police.example"]
    assert audit_events("agency.updated") == []


def test_an_unknown_agency_is_404(new_client, make_user):
    assert new_client(make_user("admin")).get("/agencies/999999").status_code == 404
    with pytest.raises(NotFound):
        services.get_agency(999999)


def test_suspending_an_agency_stops_registration_on_its_domain(new_client, make_user, client):
    agency = make_agency("Made-up Soon Suspended", domains=["soon.police.example"])
    assert services.agency_for_email("someone@soon.police.example").id == agency.id
    services.update_agency(as_identity(make_user("admin")), agency, **agency_form(
        name="Made-up Soon Suspended", status="suspended", domains="soon.police.example"))
    assert services.agency_for_email("someone@soon.police.example") is None


def test_the_longest_verified_domain_wins(make_user):
    parent = make_agency("Made-up State Police", domains=["state.example"])
    child = make_agency("Made-up City Unit", domains=["city.state.example"])
    assert services.agency_for_email("a@city.state.example").id == child.id
    assert services.agency_for_email("a@other.state.example").id == parent.id
    assert services.agency_for_email("a@state.example.evil") is None


# --- keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize("make_key", [age_key, lambda: ssh_ed25519_key("made-up@agency")])
def test_valid_keys_are_accepted_and_audited(new_client, make_user, make_key):
    agency = make_agency("Made-up Key Holder")
    manager = make_user("admin")
    browser = new_client(manager)
    key = make_key()
    url = f"/agencies/{agency.id}"
    response = post_form(browser, url, f"{url}/keys", {"public_key": f"  {key}  ",
                                                       "label": "Made-up evidence unit"})
    page = browser.get(response.headers["Location"])
    assert ("success", "Key added.") in flashes(page.text)
    [stored] = db.session.scalars(select(AgencyKey).where(AgencyKey.agency_id == agency.id)).all()
    expected_kind = "age" if key.startswith("age1") else "ssh-ed25519"
    assert stored.kind == expected_kind and stored.label == "Made-up evidence unit"
    # An SSH key is kept without its comment.
    assert stored.public_key == " ".join(key.split()[:2]) if expected_kind != "age" else key
    assert stored.public_key in page.text
    [event] = audit_events("agency.key_added", agency.id)
    assert event.actor_id == manager.id
    assert after(event) == {"kind": expected_kind, "public_key": stored.public_key}

    response = post_form(browser, url, f"{url}/keys", {"public_key": key})
    assert ("error", "This key is already registered.") in \
        flashes(browser.get(response.headers["Location"]).text)


@pytest.mark.parametrize(("value", "message"), [
    ("age1" + "b" * 58, AGE_REFUSED),  # b is not a Bech32 character
    ("age1" + "q" * 57, AGE_REFUSED),
    (age_key_with_a_bad_checksum(), AGE_REFUSED),  # the regular expression once let it in
    ("AGE-SECRET-KEY-1" + "Q" * 58,
     "Give an age public key (age1…) or an SSH ed25519 key (ssh-ed25519 AAAA…)."),
    ("ssh-ed25519 !!!notbase64", "That SSH key is not valid."),
    ("ssh-ed25519 AAAA", "That SSH key is not valid."),
    ("-----BEGIN PUBLIC KEY-----",
     "Give an age public key (age1…) or an SSH ed25519 key (ssh-ed25519 AAAA…)."),
], ids=["not-bech32", "too-short", "bad-checksum", "age-secret-key", "ssh-not-base64",
        "ssh-too-short", "pem"])  # fixed names: the bad-checksum key is random (pytest-xdist
# workers must collect the same test names)
def test_bad_keys_are_refused_plainly(new_client, make_user, value, message):
    agency = make_agency("Made-up Key Refuser")
    browser = new_client(make_user("supervisor"))
    url = f"/agencies/{agency.id}"
    response = post_form(browser, url, f"{url}/keys", {"public_key": value})
    assert response.status_code == 302
    assert ("error", message) in flashes(unescape(browser.get(response.headers["Location"]).text))
    assert db.session.scalars(select(AgencyKey)).all() == []
    assert audit_events("agency.key_added") == []


def test_an_rsa_key_dressed_as_ed25519_is_refused():
    rsa = ssh_rsa_key()
    disguised = "ssh-ed25519 " + rsa.split()[1]
    with pytest.raises(InvalidInput, match="not a valid ed25519 key"):
        parse_public_key(disguised)
    with pytest.raises(InvalidInput):
        parse_public_key(rsa)


def test_an_ed25519_blob_with_a_short_key_is_refused():
    import base64
    import struct

    name = b"ssh-ed25519"
    blob = struct.pack(">I", len(name)) + name + struct.pack(">I", 31) + b"\x01" * 31
    with pytest.raises(InvalidInput, match="not a valid ed25519 key"):
        parse_public_key("ssh-ed25519 " + base64.b64encode(blob).decode())


def test_removing_a_key_is_audited(new_client, make_user):
    agency = make_agency("Made-up Key Remover")
    admin = make_user("admin")
    key = services.add_key(as_identity(admin), agency, age_key(), "Old")
    public_key = key.public_key
    browser = new_client(admin)
    url = f"/agencies/{agency.id}"
    response = post_form(browser, url, f"{url}/keys/{key.id}/remove")
    assert ("success", "Key removed.") in flashes(browser.get(response.headers["Location"]).text)
    assert db.session.scalars(select(AgencyKey)).all() == []
    [event] = audit_events("agency.key_removed", agency.id)
    assert before(event)["public_key"] == public_key


def test_a_key_of_another_agency_cannot_be_removed_through_this_one(new_client, make_user):
    owner = make_agency("Made-up Key Owner")
    other = make_agency("Made-up Other Agency")
    admin = make_user("admin")
    key = services.add_key(as_identity(admin), owner, age_key())
    browser = new_client(admin)
    response = post_form(browser, f"/agencies/{other.id}", f"/agencies/{other.id}/keys/{key.id}/remove")
    assert response.status_code in (302, 404)
    db.session.expire_all()
    assert db.session.get(AgencyKey, key.id) is not None
