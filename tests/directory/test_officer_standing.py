"""Signals on officers: the approval page, the request page's "who is asking" panel,
periodic re-confirmation, and suspension pending review when a domain leaves the registry."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from referrals.accounts.models import OFFICER_SUSPENDED_MESSAGE, User
from referrals.accounts.registration import approve_officer, require_approved
from referrals.accounts.standing import (lift_suspension, reconfirm_email,
                                         sweep_officer_standing)
from referrals.agencies.models import AgencyDomain
from referrals.core.clock import now
from referrals.core.errors import PermissionDenied
from referrals.core.identity import Identity, system_identity
from referrals.directory.lookup import assess_domain
from referrals.directory.models import DirectoryEntry
from referrals.directory.registry import import_registry
from referrals.directory.services import add_official_domain
from referrals.extensions import db
from tests import factories
from tests.directory.conftest import OPERATOR
from tests.requests.helpers import audit_events, make_agency, submit

HEADER = "Domain name,Domain type,Organization name,Suborganization name,City,State\n"
REGISTRY = HEADER + ("madeupville.gov,City,City of Madeupville,,Madeupville,CA\n"
                     "othertown.gov,City,Town of Othertown,,Othertown,NV\n")
SWEEPER = system_identity("test: officer standing")
LINK = re.compile(r"/portal/reconfirm/([A-Za-z0-9._-]+)")


@pytest.fixture
def registry(app):
    return import_registry(OPERATOR, REGISTRY)


@pytest.fixture
def town_agency(registry):
    return make_agency("Madeupville Police", domains=["police.madeupville.gov"],
                       phones=[("+12025550100", "Duty desk")])


def _officer(agency, email, **fields):
    return factories.make_user("officer", agency=agency, email=email, **fields)


def test_the_approval_page_names_the_organisation_and_flags_the_rest(
        registry, town_agency, as_role, client):
    good = _officer(town_agency, "pat@police.madeupville.gov", approved_at=None)
    odd_agency = make_agency("Odd Police", domains=["madeupvi11e-gov.us"])
    odd = _officer(odd_agency, "sam@madeupvi11e-gov.us", approved_at=None)
    as_role("supervisor")
    page = client.get("/agencies/").text
    good_cell = page.split(f'id="signals-{good.id}"')[1].split("</td>")[0]
    odd_cell = page.split(f'id="signals-{odd.id}"')[1].split("</td>")[0]
    assert "In the .gov registry" in good_cell and "City of Madeupville" in good_cell
    assert "Check" not in good_cell
    assert "in neither the .gov registry" in odd_cell
    assert "Looks like madeupville.gov" in odd_cell


def test_approval_records_what_the_approver_was_shown(registry, town_agency, make_user):
    officer = _officer(town_agency, "pat@police.madeupville.gov", approved_at=None)
    approver = make_user("supervisor")
    approve_officer(Identity.for_user(approver), officer)
    (event,) = audit_events("account.approved", object_id=officer.id)
    assert "City of Madeupville" in event.after
    assert officer.approved_domains == "police.madeupville.gov"


def test_the_request_page_says_who_is_asking(registry, town_agency, as_role, client):
    approver = factories.make_user("supervisor", full_name="Avery Approver")
    officer = _officer(town_agency, "pat@police.madeupville.gov", approved_by_id=approver.id)
    first = submit(officer, request_type="emergency", emergency=True,
                   official_email="pat@police.madeupville.gov", phone="+1 202 555 0199")
    as_role("agent")
    panel = client.get(f"/requests/{first.reference}").text.split('id="who-is-asking"')[1]
    panel = panel.split("</section>")[0]
    assert "City of Madeupville" in panel and "Avery Approver" in panel
    assert "First request from this officer" in panel
    assert "not one of the agency registry" in panel
    assert 'href="#callback"' in panel  # an emergency: the call-back, never a block
    second = submit(officer, official_email="pat@police.madeupville.gov", phone="+1 202 555 0100")
    panel = client.get(f"/requests/{second.reference}").text.split('id="who-is-asking"')[1]
    panel = panel.split("</section>")[0]
    assert "1 earlier from this officer" in panel
    assert "Duty desk" in panel and "Nothing unusual" in panel


def test_an_officer_whose_domain_left_the_registry_is_suspended_pending_review(
        registry, town_agency, make_user):
    officer = _officer(town_agency, "pat@police.madeupville.gov")
    other = _officer(make_agency("Othertown Police", domains=["othertown.gov"]),
                     "lee@othertown.gov")
    import_registry(OPERATOR, HEADER + "othertown.gov,City,Town of Othertown,,Othertown,NV\n")
    result = sweep_officer_standing(SWEEPER)
    assert result["suspended"] == 1
    db.session.refresh(officer)
    assert officer.suspended_at is not None and other.suspended_at is None
    assert "madeupville.gov is no longer in the US .gov registry" in officer.suspended_reason
    errors: list[str] = []
    assert officer.is_locked(errors)
    assert errors == [OFFICER_SUSPENDED_MESSAGE.format(reason=officer.suspended_reason)]
    with pytest.raises(PermissionDenied, match="suspended while the LER team reviews"):
        require_approved(Identity.for_user(officer))
    assert audit_events("account.suspended_pending_review", object_id=officer.id)
    # Swept again: not suspended twice.
    assert sweep_officer_standing(SWEEPER)["suspended"] == 0
    lift_suspension(Identity.for_user(make_user("supervisor")), officer)
    assert officer.suspended_at is None and not officer.is_locked([])
    assert audit_events("account.suspension_lifted", object_id=officer.id)


def _reconfirm_token(mailbox_body: str) -> str:
    return LINK.search(mailbox_body).group(1)


def test_officers_confirm_their_address_again_each_year(registry, town_agency, monkeypatch):
    sent = []
    monkeypatch.setattr("referrals.accounts.standing.queue_mail",
                        lambda to, subject, body: sent.append((to, subject, body)))
    officer = _officer(town_agency, "pat@police.madeupville.gov",
                       confirmed_at=now() - timedelta(days=400))
    officer.approved_domains = "police.madeupville.gov"
    fresh = _officer(town_agency, "new@police.madeupville.gov")
    assert sweep_officer_standing(SWEEPER)["reconfirmations_sent"] == 1
    ((to, subject, body),) = sent
    assert to == officer.email and "again" in subject
    # Within the grace days the officer still works; after them, submissions wait.
    require_approved(Identity.for_user(officer))
    officer.reconfirmation_sent_at = now() - timedelta(days=31)
    with pytest.raises(PermissionDenied, match="Confirm your e-mail address again"):
        require_approved(Identity.for_user(officer))
    officer.reconfirmation_sent_at = now() - timedelta(days=1)
    body_token = _reconfirm_token(body)
    # The link was signed with the first sending time: moved, it no longer matches.
    with pytest.raises(Exception):
        reconfirm_email(body_token)
    sent.clear()
    officer.reconfirmation_sent_at = now() - timedelta(days=40)
    sweep_officer_standing(SWEEPER)  # the link ran out: a new one
    token = _reconfirm_token(sent[0][2])
    user = reconfirm_email(token)
    assert user.reconfirmation_sent_at is None and user.approved_at is not None
    require_approved(Identity.for_user(user))
    assert fresh.reconfirmation_sent_at is None


def test_reconfirming_after_the_agency_domains_changed_needs_staff_approval_again(
        registry, town_agency, monkeypatch):
    sent = []
    monkeypatch.setattr("referrals.accounts.standing.queue_mail",
                        lambda to, subject, body: sent.append(body))
    officer = _officer(town_agency, "pat@police.madeupville.gov",
                       confirmed_at=now() - timedelta(days=400))
    officer.approved_domains = "police.madeupville.gov"
    town_agency.domains[0].domain = "police.madeupville.gov"
    town_agency.domains.append(AgencyDomain(domain="sheriff.madeupville.gov"))
    db.session.flush()
    sweep_officer_standing(SWEEPER)
    user = reconfirm_email(_reconfirm_token(sent[0]))
    assert user.approved_at is None
    (event,) = audit_events("account.email_reconfirmed", object_id=user.id)
    assert '"approval_needed_again":true' in event.after


def test_official_domains_keep_their_evidence_and_count_as_listed(app, make_user):
    checker = make_user("supervisor", email="checker@test.example")
    row = add_official_domain(Identity.for_user(checker), domain="Met.Police.UK",
                              organization="Metropolitan Police Service", country="gb",
                              method="government_website",
                              evidence="Force contact page on the force's own website")
    assert (row.domain, row.country, row.checked_by_label) == (
        "met.police.uk", "GB", "checker@test.example")
    assessment = assess_domain("cid.met.police.uk")
    assert assessment.listed and assessment.organization == "Metropolitan Police Service"
    # rn for m: a look-alike of the listed force.
    assert [item.domain for item in assess_domain("rnet.police.uk").lookalikes] == ["met.police.uk"]
    assert audit_events("directory.official_added", object_id=row.id)


def test_an_entry_page_lists_our_agencies_on_its_sub_domains(registry, town_agency, as_role,
                                                             client):
    entry = db.session.scalar(select(DirectoryEntry).where(
        DirectoryEntry.domain == "madeupville.gov"))
    as_role("supervisor")
    page = client.get(f"/agencies/directory/entries/{entry.id}").text
    assert "Madeupville Police" in page.split("Our agencies on this domain")[1]
    assert 'id="create-from-entry"' not in page
