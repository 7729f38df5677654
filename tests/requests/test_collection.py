"""The "collecting" step: what the platform returns for an approved request becomes evidence
owned by the request, for staff only, with custody and audit; refusals are plain."""

from __future__ import annotations

import hashlib
import html
from datetime import date

import pytest
from sqlalchemy import select

from referrals.connector import METHODS, Period, Target
from referrals.connector.demo import DemoConnector, export_as_json
from referrals.core.errors import DomainError, PermissionDenied
from referrals.core.storage import get_store
from referrals.evidence.models import CustodyEvent, EvidenceItem
from referrals.extensions import db
from referrals.requests import services
from referrals.requests.collection import collect_for_request, collected_items
from referrals.disclosures.models import Disclosure
from referrals.requests.models import RequestMessage
from tests.connector import fakes
from tests.connector.fixtures import use_connector  # noqa: F401  (fixture)
from tests.requests.helpers import (after, as_identity, audit_events, flashes, move,
                                    post_form, reload_request, submit)

CATEGORIES = ["subscriber", "login_logout", "content"]


@pytest.fixture(autouse=True)
def _demo_platform(use_connector):  # noqa: F811
    use_connector(DemoConnector())


@pytest.fixture
def warrant(officer_a):
    """A search warrant for two accounts, three categories, spring 2025."""
    return submit(officer_a, request_type="search_warrant", data_categories=CATEGORIES,
                  date_from=date(2025, 3, 1), date_to=date(2025, 5, 31),
                  targets=[{"kind": "username", "value": "@Made_Up_One"},
                           {"kind": "platform_user_id", "value": "u-0002"}])


def approved(request, agent, supervisor, *, withhold=()):
    move(agent, request, "verifying", "legal_review")
    services.decide_targets(as_identity(agent), request, {
        t.id: (("withhold", "Made-up reason") if t.normalized in withhold else ("produce", ""))
        for t in request.targets})
    services.approve_request(as_identity(supervisor), request)
    return request


@pytest.fixture
def collecting(warrant, agent, supervisor):
    approved(warrant, agent, supervisor, withhold=("u-0002",))
    move(agent, warrant, "collecting")
    return warrant


def _expected_exports(target: Target) -> list[bytes]:
    """What the demo platform answers for the warrant, in the order it is collected."""
    demo, period = DemoConnector(), Period(date(2025, 3, 1), date(2025, 5, 31))
    answers = []
    for category in CATEGORIES:
        export = getattr(demo, METHODS[category])(target, period)
        answers.append(export_as_json(export))
        answers.extend(f.data for f in export.files)
    return answers


def _items(request) -> list[EvidenceItem]:
    db.session.expire_all()
    return list(db.session.scalars(select(EvidenceItem).where(EvidenceItem.request_id == request.id)
                                   .order_by(EvidenceItem.id)))


# --- the service ----------------------------------------------------------------------------


def test_collecting_for_an_approved_request_makes_evidence_from_the_connector(collecting, agent):
    items = collect_for_request(as_identity(agent), collecting)

    expected = _expected_exports(Target("username", "made_up_one"))
    assert len(items) == len(expected) > 3, "records for each category, and content files"
    store = get_store()
    for item, data in zip(items, expected, strict=True):
        # The hashes are of what the platform returned, recomputed here from the demo export.
        assert item.sha256 == hashlib.sha256(data).hexdigest()
        assert item.sha1 == hashlib.sha1(data).hexdigest()
        assert item.size == len(data)
        assert b"".join(store.read(item.blob.storage_name)) == data
        assert (item.request_id, item.case_id, item.hold_id) == (collecting.id, None, None)
        assert item.source_system == "demo-platform"
        assert item.captured_by_id == agent.id
        [custody] = db.session.scalars(select(CustodyEvent).where(CustodyEvent.evidence_id == item.id))
        assert (custody.action, custody.actor_id, custody.purpose, custody.sha256) == (
            "collected", agent.id, f"Collected for {collecting.reference}", item.sha256)
    assert [i.original_name for i in items[:2]] == [
        "subscriber-username-made_up_one.json", "login_logout-username-made_up_one.json"]
    # The withheld target was not asked about.
    assert not any("u-0002" in i.original_name or "u-0002" in i.description for i in items)
    assert [i.id for i in _items(collecting)] == [i.id for i in items]


def test_collection_is_audited_with_counts_and_noted_for_staff_only(collecting, agent):
    items = collect_for_request(as_identity(agent), collecting)
    [event] = audit_events("request.collected", collecting.reference)
    record = after(event)
    assert event.actor_id == agent.id and event.agency_id == collecting.agency_id
    assert record["items"] == len(items) and record["bytes"] == sum(i.size for i in items)
    assert record["by_category"] == {"subscriber": 1, "login_logout": 1,
                                     "content": len(items) - 2}
    assert record["targets"] == ["made_up_one"] and record["categories"] == CATEGORIES
    assert record["period"] == {"from": "2025-03-01", "to": "2025-05-31"}
    assert record["evidence_ids"] == [i.id for i in items]
    assert len(audit_events("evidence.collected")) == len(items)
    [note] = db.session.scalars(select(RequestMessage).where(
        RequestMessage.request_id == collecting.id, RequestMessage.internal.is_(True)))
    assert note.body.startswith(f"Collected from the platform (demo-platform): {len(items)} item(s) "
                                "for made_up_one; subscriber information")
    assert note.author_id == agent.id and not note.from_agency


@pytest.mark.parametrize("status", ["approved", "ready_for_review", "legal_review", "disclosed",
                                    "withdrawn"])
def test_collecting_is_refused_outside_the_collecting_step(status, warrant, agent, supervisor):
    approved(warrant, agent, supervisor)
    warrant.status = status
    db.session.flush()
    with pytest.raises(DomainError) as refused:
        collect_for_request(as_identity(agent), warrant)
    assert refused.value.message.startswith("Data is collected while a request is collecting; "
                                            "this one is ")
    assert _items(warrant) == []


def test_nothing_decided_produce_is_a_plain_refusal(collecting, agent):
    for target in collecting.targets:
        target.decision = "withhold"
    db.session.flush()
    with pytest.raises(DomainError) as refused:
        collect_for_request(as_identity(agent), collecting)
    assert refused.value.message == ('No target on this request is decided "produce": there is '
                                     'nothing to collect.')


@pytest.mark.parametrize("role", ["compliance", "admin"])
def test_staff_who_do_not_work_requests_cannot_collect(collecting, make_user, role):
    with pytest.raises(PermissionDenied):
        collect_for_request(as_identity(make_user(role)), collecting)
    assert _items(collecting) == []


def test_an_officer_cannot_collect(collecting, officer_a):
    with pytest.raises(PermissionDenied):
        collect_for_request(as_identity(officer_a), collecting)
    assert _items(collecting) == []


def test_a_supervisor_who_collected_cannot_release(warrant, agent, supervisor, make_user):
    approver = make_user("supervisor")
    approved(warrant, agent, approver)
    move(agent, warrant, "collecting")
    collect_for_request(as_identity(supervisor), warrant)
    move(agent, warrant, "ready_for_review")
    with pytest.raises(PermissionDenied):
        services.record_disclosure(as_identity(supervisor), warrant)
    assert db.session.scalars(select(Disclosure)).all() == []
    services.record_disclosure(as_identity(approver), warrant)
    assert reload_request(warrant.reference).status == "disclosed"


def test_collecting_again_keeps_both_and_stores_the_bytes_once(collecting, agent):
    first = collect_for_request(as_identity(agent), collecting)
    again = collect_for_request(as_identity(agent), collecting)
    assert len(_items(collecting)) == len(first) + len(again)
    assert [i.blob_id for i in first] == [i.blob_id for i in again]


# --- the page -------------------------------------------------------------------------------


def test_the_page_collects_and_lists_what_was_collected(collecting, agent, new_client):
    browser = new_client(agent)
    url = f"/requests/{collecting.reference}"
    page = browser.get(url)
    assert 'id="collect"' in page.text and "Nothing collected yet." in page.text

    response = post_form(browser, url, f"{url}/collect")
    assert response.status_code == 302 and response.headers["Location"].endswith("#collected")
    page = browser.get(url)
    items = _items(collecting)
    assert ("success", "Collecting from the platform: this section shows how far it got.") in \
        flashes(page.text)
    # The job ran after the commit (jobs run at once in tests); its progress says how it went.
    progress = browser.get(f"{url}/collection/progress").get_json()
    assert progress["state"] == "done" and progress["finished"]
    assert progress["done"] == progress["total"] == len(CATEGORIES)  # one target produced
    assert progress["message"] == f"Collected {len(items)} item(s) from the platform."
    text = html.unescape(page.text)
    assert 'data-progress-url="/requests/' in text and progress["message"] in text
    for item in items:
        assert item.sha256 in text and item.original_name in text
        assert f"{item.size:,} bytes" in text
        assert f"/requests/{collecting.reference}/collected/{item.id}" in text
    assert "Subscriber information" in text and "Content data" in text
    assert agent.email in text  # collected by


def test_a_failing_platform_is_a_plain_message_not_a_500(collecting, agent, new_client,
                                                        use_connector):  # noqa: F811
    use_connector(fakes.BrokenConnector())
    browser = new_client(agent)
    url = f"/requests/{collecting.reference}"
    response = post_form(browser, url, f"{url}/collect")
    assert response.status_code == 302
    progress = browser.get(f"{url}/collection/progress").get_json()
    assert progress["state"] == "failed"
    assert progress["message"] == (
        "The platform did not answer for login_logout of username made_up_one. Try again later; "
        "if it keeps failing, tell the on-call.")
    page = browser.get(url)
    assert progress["message"] in html.unescape(page.text)
    assert 'id="collect"' in page.text  # it can be started again
    assert _items(collecting) == [] and audit_events("request.collected") == []


def test_a_connector_that_cannot_be_loaded_is_a_plain_message(collecting, agent, new_client,
                                                              use_connector):  # noqa: F811
    use_connector("made_up_platform_sdk:Platform")
    browser = new_client(agent)
    url = f"/requests/{collecting.reference}"
    post_form(browser, url, f"{url}/collect")
    progress = browser.get(f"{url}/collection/progress").get_json()
    assert progress["state"] == "failed" and progress["message"].startswith(
        "The platform connector 'made_up_platform_sdk:Platform' cannot be loaded")


def test_a_refusal_through_the_page_is_a_flash(warrant, agent, supervisor, new_client):
    approved(warrant, agent, supervisor)
    browser = new_client(agent)
    url = f"/requests/{warrant.reference}"
    assert 'id="collect"' not in browser.get(url).text
    page = browser.get(post_form(browser, url, f"{url}/collect").headers["Location"])
    assert ("error", "Data is collected while a request is collecting; this one is approved.") in \
        flashes(page.text)


def test_compliance_sees_the_list_but_cannot_collect(collecting, agent, make_user, new_client):
    collect_for_request(as_identity(agent), collecting)
    browser = new_client(make_user("compliance"))
    url = f"/requests/{collecting.reference}"
    page = browser.get(url)
    assert 'id="collect"' not in page.text
    assert _items(collecting)[0].sha256 in page.text
    assert post_form(browser, url, f"{url}/collect").status_code == 403


def test_staff_download_is_custody_and_audit(collecting, agent, make_user, new_client):
    [first, *_] = collect_for_request(as_identity(agent), collecting)
    reader = make_user("compliance")
    response = new_client(reader).get(f"/requests/{collecting.reference}/collected/{first.id}")
    assert response.status_code == 200
    assert response.data == _expected_exports(Target("username", "made_up_one"))[0]
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    custody = db.session.scalars(select(CustodyEvent).where(CustodyEvent.evidence_id == first.id)
                                 .order_by(CustodyEvent.id)).all()
    assert [(c.action, c.actor_id) for c in custody] == [("collected", agent.id),
                                                         ("downloaded", reader.id)]
    assert custody[1].purpose == f"Downloaded from request {collecting.reference}"
    [event] = audit_events("evidence.downloaded", first.id)
    assert event.actor_id == reader.id and after(event)["sha256"] == first.sha256


def test_an_item_of_another_request_or_a_case_is_not_served_here(collecting, agent, officer_a,
                                                                 new_client):
    [first, *_] = collect_for_request(as_identity(agent), collecting)
    other = submit(officer_a)
    browser = new_client(agent)
    assert browser.get(f"/requests/{other.reference}/collected/{first.id}").status_code == 404
    assert browser.get(f"/requests/{collecting.reference}/collected/999999").status_code == 404


def test_flagged_media_needs_clearance_to_download(collecting, agent, make_user, new_client,
                                                  use_connector):  # noqa: F811
    use_connector(fakes.FlaggedMediaConnector())
    items = collect_for_request(as_identity(agent), collecting)
    flagged = next(i for i in items if i.may_be_csam)
    url = f"/requests/{collecting.reference}/collected/{flagged.id}"
    browser = new_client(agent)
    page = browser.get(f"/requests/{collecting.reference}")
    assert "may be CSAM: cleared staff only" in page.text and url not in page.text
    assert browser.get(url).status_code == 403
    assert [c.action for c in flagged.custody_events] == ["collected"]
    cleared = new_client(make_user("agent", cleared_for_csam=True))
    assert cleared.get(url).data == b"synthetic flagged bytes, not media\n"


def test_officers_never_see_collected_items(collecting, agent, officer_a, new_client):
    items = collect_for_request(as_identity(agent), collecting)
    officer = new_client(officer_a)
    page = officer.get(f"/portal/requests/{collecting.reference}")
    assert page.status_code == 200
    for item in items:
        assert item.sha256 not in page.text and item.original_name not in page.text
    assert "Collected from the platform" not in page.text
    assert officer.get(f"/requests/{collecting.reference}/collected/{items[0].id}").status_code == 404
    assert officer.get(f"/requests/{collecting.reference}").status_code == 404


def test_collected_items_lists_newest_first_with_categories(collecting, agent):
    items = collect_for_request(as_identity(agent), collecting)
    listed = collected_items(collecting)
    assert {c.id for c in listed} == {i.id for i in items}
    assert [c.data_category for c in listed if c.id == items[0].id] == ["subscriber"]
    assert all(c.data_category in CATEGORIES for c in listed)


def test_the_progress_is_for_staff_who_read_requests_only(collecting, agent, make_user,
                                                         new_client):
    browser = new_client(agent)
    url = f"/requests/{collecting.reference}"
    assert browser.get(f"{url}/collection/progress").get_json() == {
        "state": "none", "label": "Not started", "done": 0, "total": 0, "percent": 0,
        "message": "", "finished": True}
    post_form(browser, url, f"{url}/collect")
    assert browser.get(f"{url}/collection/progress").get_json()["state"] == "done"
    compliance = new_client(make_user("compliance"))
    assert compliance.get(f"{url}/collection/progress").get_json()["state"] == "done"
    admin = new_client(make_user("admin"))
    assert admin.get(f"{url}/collection/progress").status_code == 403
    officer = new_client(collecting.submitted_by)
    response = officer.get(f"{url}/collection/progress")
    assert response.status_code == 404 and b"Collected" not in response.data
    anonymous = new_client()
    assert anonymous.get(f"{url}/collection/progress").status_code == 302


def test_one_collection_at_a_time(collecting, agent):
    from referrals.requests.collection import start_collection

    first = start_collection(as_identity(agent), collecting)  # queued: not committed, not run
    assert first.state == "queued" and first.total == len(CATEGORIES)  # one target produced
    with pytest.raises(DomainError, match="already being collected"):
        start_collection(as_identity(agent), collecting)


def test_the_category_is_the_one_asked_for_not_read_from_the_file_name(collecting, agent):
    """Regression: the category was recovered from the records file's name (or a content
    file's description), so an item named otherwise had none. It is stored as it is collected."""
    items = collect_for_request(as_identity(agent), collecting)
    first = items[0]
    first.original_name, first.description = "renamed-by-someone.json", ""
    db.session.flush()
    db.session.expire_all()
    [listed] = [c for c in collected_items(collecting) if c.id == first.id]
    assert listed.data_category == "subscriber"
