"""Media that may be CSAM (18 U.S.C. 2258B(c)): no bytes for anyone not cleared, by any route.

Synthetic stand-ins only: generated images and random bytes. The flag decides, not content.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from referrals.cases.escalations import receive_escalation
from referrals.core.clock import now
from referrals.core.errors import PermissionDenied
from referrals.core.identity import Identity
from referrals.demo.cases import synthetic_png
from referrals.evidence import services
from referrals.evidence.models import CustodyEvent, EvidenceItem
from referrals.extensions import db
from referrals.tokens.services import create_token
from tests.cases.helpers import SYSTEM, add_target, audit_events, bearer, make_token
from tests.evidence.conftest import item_id_from, synthetic_mp4


def _store_item(make_user, case, data: bytes, name: str, *, may_be_csam=False) -> EvidenceItem:
    uploader = Identity.for_user(make_user("agent", cleared_for_csam=True))
    return services.add_evidence(uploader, case, io.BytesIO(data), original_name=name,
                                 may_be_csam=may_be_csam)


def _custody_actions(item_id) -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(CustodyEvent.action)
                                   .where(CustodyEvent.evidence_id == item_id)
                                   .order_by(CustodyEvent.id)))


def _leaks(body: bytes, data: bytes) -> bool:
    """Whether any 16-byte window of the file shows up in a response."""
    return any(data[i:i + 16] in body for i in range(0, len(data) - 16, 509))


@pytest.fixture
def sensitive(make_user, case_of):
    """A flagged image in an 'other' case, and its bytes."""
    case = case_of("other")
    data = synthetic_png(seed=21)
    return case, _store_item(make_user, case, data, "frame.png", may_be_csam=True), data


# --- the flag ---------------------------------------------------------------------------


def test_the_flag_from_the_upload_form(as_role, case_of, upload_form):
    as_role("agent")
    case = case_of("other")
    item_id = item_id_from(upload_form(case, synthetic_png(seed=1), "a.png", may_be_csam=True))
    plain_id = item_id_from(upload_form(case, synthetic_png(seed=2), "b.png"))
    assert db.session.get(EvidenceItem, item_id).may_be_csam is True
    assert db.session.get(EvidenceItem, plain_id).may_be_csam is False


@pytest.mark.parametrize("category", ["child_sexual_exploitation", "grooming"])
def test_every_item_in_a_child_exploitation_case_is_flagged(make_user, case_of, category):
    case = case_of(category)
    item = _store_item(make_user, case, synthetic_png(seed=5), "x.png", may_be_csam=False)
    assert item.may_be_csam is True


def test_an_item_in_an_other_case_is_not_flagged_by_default(make_user, case_of):
    item = _store_item(make_user, case_of("trafficking"), synthetic_png(seed=6), "x.png")
    assert item.may_be_csam is False


def test_the_api_upload_takes_the_flag(client, make_user, case_of, upload_api):
    case = case_of("other")
    token = make_token(make_user("agent"), "evidence:write")
    response = upload_api(case, synthetic_png(seed=8), token, may_be_csam="true")
    assert response.status_code == 201 and response.json["may_be_csam"] is True


# --- nobody uncleared gets bytes --------------------------------------------------------


@pytest.mark.parametrize("role", ["agent", "supervisor", "compliance"])
def test_uncleared_staff_get_no_bytes_from_the_pages(client, as_role, sensitive, role):
    case, item, data = sensitive
    as_role(role)
    base = f"/cases/{case.reference}/evidence/{item.id}"

    for url in (f"{base}/content", f"{base}/content?download=1",
                f"{base}/content?download=1&purpose=need+it"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert not _leaks(response.data, data)
        assert "cleared" in response.text

    page = client.get(base)
    assert page.status_code == 200
    assert "Hidden" in page.text and "Only staff cleared to view such material" in page.text
    for leak in ("<img", "<video", "<audio", 'id="download"', f"{base}/content"):
        assert leak not in page.text
    assert item.sha256 in page.text  # the metadata is still there to work with
    assert _custody_actions(item.id) == ["collected"]
    assert audit_events("evidence.viewed", item.id) == []
    assert audit_events("evidence.downloaded", item.id) == []


def test_an_uncleared_token_gets_no_bytes_from_the_api(client, make_user, sensitive):
    case, item, data = sensitive
    token = make_token(make_user("agent"), "evidence:read")
    response = client.get(f"/api/v1/cases/{case.reference}/evidence/{item.id}/content",
                          headers=bearer(token))
    assert response.status_code == 403
    assert response.is_json and "cleared" in response.json["message"]
    assert not _leaks(response.data, data)
    assert _custody_actions(item.id) == ["collected"]


def test_the_service_refuses_uncleared_identities(make_user, sensitive):
    _, item, _ = sensitive
    for role in ("agent", "supervisor", "compliance"):
        with pytest.raises(PermissionDenied, match="cleared"):
            services.open_content(Identity.for_user(make_user(role)), item,
                                  action="viewed", purpose="test")
    # Clearance is a staff matter: an agency account flagged by mistake is not cleared.
    officer = make_user("officer", cleared_for_csam=True)
    assert Identity.for_user(officer).cleared_for_csam is False
    with pytest.raises(PermissionDenied):
        services.open_content(Identity.for_user(officer), item, action="viewed", purpose="t")


def test_a_flagged_item_in_a_child_exploitation_case_is_hidden_too(client, as_role, make_user,
                                                                   case_of):
    case = case_of("child_sexual_exploitation")
    data = synthetic_png(seed=30)
    item = _store_item(make_user, case, data, "y.png", may_be_csam=False)
    as_role("agent")
    response = client.get(f"/cases/{case.reference}/evidence/{item.id}/content")
    assert response.status_code == 403 and not _leaks(response.data, data)
    assert "sensitive" in client.get(f"/cases/{case.reference}").text


def test_uncleared_staff_still_open_unflagged_items(client, as_role, make_user, case_of):
    case = case_of("other")
    data = synthetic_png(seed=31)
    item = _store_item(make_user, case, data, "ok.png")
    as_role("agent")
    assert client.get(f"/cases/{case.reference}/evidence/{item.id}/content").data == data


# --- cleared staff ----------------------------------------------------------------------


def test_cleared_staff_see_the_image_veiled(client, make_user, sign_in, sensitive):
    case, item, data = sensitive
    sign_in(make_user("agent", cleared_for_csam=True))
    base = f"/cases/{case.reference}/evidence/{item.id}"

    page = client.get(base).text
    assert "Hidden" not in page
    assert '<div class="media veiled">' in page
    veiled = page.split('<div class="media veiled">', 1)[1].split("</div>", 1)[0]
    assert f'<img src="{base}/content"' in veiled
    assert 'id="download"' in page

    response = client.get(f"{base}/content")
    assert response.status_code == 200 and response.data == data
    assert client.get(f"{base}/content?download=1").data == data
    assert _custody_actions(item.id) == ["collected", "viewed", "downloaded"]
    assert len(audit_events("evidence.viewed", item.id)) == 1


def test_cleared_staff_get_video_muted(client, make_user, sign_in, case_of):
    case = case_of("other")
    data = synthetic_mp4()
    item = _store_item(make_user, case, data, "clip.mp4", may_be_csam=True)
    assert item.mime_type == "video/mp4"
    sign_in(make_user("supervisor", cleared_for_csam=True))
    page = client.get(f"/cases/{case.reference}/evidence/{item.id}").text
    veiled = page.split('<div class="media veiled">', 1)[1].split("</div>", 1)[0]
    assert "<video" in veiled
    video_tag = veiled.split("<video", 1)[1].split(">", 1)[0]
    assert " muted" in video_tag and "autoplay" not in video_tag
    response = client.get(f"/cases/{case.reference}/evidence/{item.id}/content")
    assert response.status_code == 200 and response.mimetype == "video/mp4"
    assert response.data == data


def test_cleared_compliance_reviewers_can_open_it(client, make_user, sign_in, sensitive):
    case, item, data = sensitive
    sign_in(make_user("compliance", cleared_for_csam=True))
    response = client.get(f"/cases/{case.reference}/evidence/{item.id}/content")
    assert response.status_code == 200 and response.data == data


def test_a_cleared_token_gets_the_bytes(client, make_user, sensitive):
    case, item, data = sensitive
    cleared = make_user("agent", cleared_for_csam=True)
    response = client.get(f"/api/v1/cases/{case.reference}/evidence/{item.id}/content",
                          headers=bearer(make_token(cleared, "evidence:read")))
    assert response.status_code == 200 and response.data == data
    assert _custody_actions(item.id) == ["collected", "downloaded"]


def test_losing_clearance_takes_effect_at_once(client, make_user, sign_in, sensitive):
    case, item, data = sensitive
    user = make_user("agent", cleared_for_csam=True)
    sign_in(user)
    url = f"/cases/{case.reference}/evidence/{item.id}/content"
    assert client.get(url).status_code == 200
    user.cleared_for_csam = False
    db.session.flush()
    response = client.get(url)
    assert response.status_code == 403 and not _leaks(response.data, data)


def test_a_case_joined_by_a_child_exploitation_escalation_flags_its_evidence(
        make_user, case_of, client):
    """Regression: a CSE escalation attached to an 'other' case left new uploads unflagged."""
    agent = make_user("agent")
    case = case_of("other")
    add_target(agent, case, ("platform_user_id", "u-shared-1"))
    token, _ = create_token(SYSTEM, make_user(None, enrolled=False), scopes=["escalations:write"])
    actor = Identity.for_token(token)
    intake = receive_escalation(actor, {
        "source_system": "test", "external_id": "E-1", "category": "child_sexual_exploitation",
        "reason": "hash_match", "detected_at": now() - timedelta(hours=1),
        "accounts": [{"label": "x", "identifiers": [
            {"kind": "platform_user_id", "value": "u-shared-1"}]}]})
    assert intake.attached and intake.case.id == case.id and case.category == "other"

    item = _store_item(make_user, case, synthetic_png(seed=40), "later.png", may_be_csam=False)
    assert item.may_be_csam is True
    other = _store_item(make_user, case_of("other"), synthetic_png(seed=41), "x.png")
    assert other.may_be_csam is False
