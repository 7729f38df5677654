"""Issue 11: whether media may be abuse material is a property of its SHA-256, not of one item.

Synthetic stand-ins only: generated images. The flag decides, not content.
"""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from referrals.core.clock import now
from referrals.core.errors import InvalidInput, PermissionDenied
from referrals.core.identity import Identity
from referrals.demo.cases import synthetic_png
from referrals.evidence import services
from referrals.evidence.models import CustodyEvent, EvidenceItem, SensitiveMedia
from referrals.evidence.sensitive import flag_media, unflag_media
from referrals.extensions import db
from referrals.ncmec.reading import file_reviews
from tests.cases.helpers import audit_events
from tests.conftest import csrf_from


def _store(make_user, case, data: bytes, name: str, *, may_be_csam=False) -> EvidenceItem:
    uploader = Identity.for_user(make_user("agent", cleared_for_csam=True))
    return services.add_evidence(uploader, case, io.BytesIO(data), original_name=name,
                                 may_be_csam=may_be_csam)


def _content(client, item: EvidenceItem, case) -> int:
    return client.get(f"/cases/{case.reference}/evidence/{item.id}/content").status_code


def test_the_same_bytes_stay_hidden_on_both_cases(client, make_user, sign_in, case_of):
    """Regression: bytes flagged on one case were open to uncleared staff on another."""
    data = synthetic_png(seed=101)
    first, second = case_of("other"), case_of("trafficking")
    flagged = _store(make_user, first, data, "frame.png", may_be_csam=True)
    again = _store(make_user, second, data, "same-frame.png")  # stored later, not marked

    assert flagged.may_be_csam and again.may_be_csam
    sign_in(make_user("agent"))
    assert _content(client, flagged, first) == 403
    assert _content(client, again, second) == 403
    page = client.get(f"/cases/{second.reference}/evidence/{again.id}").text
    assert "Only staff cleared to view such material" in page and "<img" not in page


def test_flagging_one_item_flags_every_item_with_its_bytes_at_once(client, make_user, sign_in,
                                                                 case_of):
    data = synthetic_png(seed=102)
    first, second = case_of("other"), case_of("other")
    one, two = _store(make_user, first, data, "a.png"), _store(make_user, second, data, "b.png")
    other = _store(make_user, second, synthetic_png(seed=103), "c.png")
    agent = make_user("agent")
    sign_in(agent)
    assert _content(client, two, second) == 200

    page = client.get(f"/cases/{first.reference}/evidence/{one.id}").text
    response = client.post(f"/cases/{first.reference}/evidence/{one.id}/flag",
                           data={"csrf_token": csrf_from(page),
                                 "reason": "Synthetic: the frame may show a child."})
    assert response.status_code == 302
    assert _content(client, one, first) == 403
    assert _content(client, two, second) == 403  # the other case's item, same bytes
    assert _content(client, other, second) == 200  # other bytes are untouched
    [event] = audit_events("evidence.media_flagged", one.id)
    assert event.actor_id == agent.id and '"items_with_these_bytes":2' in event.after


def test_a_flag_needs_a_reason(make_user, case_of):
    item = _store(make_user, case_of("other"), synthetic_png(seed=104), "a.png")
    with pytest.raises(InvalidInput, match="Say why"):
        flag_media(Identity.for_user(make_user("agent")), item, "  ")
    assert db.session.get(SensitiveMedia, item.sha256) is None


def test_only_a_cleared_supervisor_unflags_and_says_why(make_user, case_of):
    data = synthetic_png(seed=105)
    one = _store(make_user, case_of("other"), data, "a.png", may_be_csam=True)
    two = _store(make_user, case_of("other"), data, "b.png")
    for who in (make_user("agent", cleared_for_csam=True), make_user("supervisor")):
        with pytest.raises(PermissionDenied, match="cleared"):
            unflag_media(Identity.for_user(who), one, "Synthetic: not abuse material.")
    cleared = Identity.for_user(make_user("supervisor", cleared_for_csam=True))
    with pytest.raises(InvalidInput):
        unflag_media(cleared, one, "")
    assert two.may_be_csam

    assert unflag_media(cleared, one, "Synthetic: a cartoon, reviewed.") == 2
    assert not one.may_be_csam and not two.may_be_csam
    [event] = audit_events("evidence.media_unflagged", one.id)
    assert "a cartoon, reviewed" in event.after and event.actor_id == cleared.user_id


def test_the_page_offers_unflagging_to_a_cleared_supervisor_only(client, make_user, sign_in,
                                                                 case_of):
    case = case_of("other")
    item = _store(make_user, case, synthetic_png(seed=106), "a.png", may_be_csam=True)
    url = f"/cases/{case.reference}/evidence/{item.id}"
    sign_in(make_user("supervisor"))
    assert 'id="unflag"' not in client.get(url).text
    assert client.post(f"{url}/unflag", data={"csrf_token": csrf_from(client.get(url).text),
                                              "reason": "x"}).status_code == 302
    assert db.session.get(SensitiveMedia, item.sha256) is not None  # refused, in words


# --- a reload is not a new "viewed" custody event -----------------------------------------


def _viewed(item_id) -> list[CustodyEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(CustodyEvent).where(
        CustodyEvent.evidence_id == item_id, CustodyEvent.action == "viewed")))


def test_a_reload_within_the_window_is_not_a_new_viewed_event(client, make_user, sign_in,
                                                              case_of, frozen):
    case = case_of("other")
    item = _store(make_user, case, synthetic_png(seed=108), "a.png")
    start = frozen(now().replace(microsecond=0))
    viewer = make_user("agent")
    sign_in(viewer)
    url = f"/cases/{case.reference}/evidence/{item.id}/content"
    assert client.get(url).status_code == 200
    frozen(start + timedelta(minutes=9))
    assert client.get(url).status_code == 200  # a reload
    assert len(_viewed(item.id)) == 1
    assert len(audit_events("evidence.viewed", item.id)) == 2  # every view is still audited
    assert client.get(url + "?download=1").status_code == 200  # a download always counts
    frozen(start + timedelta(minutes=20))
    assert client.get(url).status_code == 200  # a new look, later
    assert len(_viewed(item.id)) == 2
    # What a CyberTipline report says of the file (fileViewedByEsp) stays true.
    [review] = file_reviews([db.session.get(EvidenceItem, item.id)])
    assert review.viewed_by_person and review.viewers == (viewer.email,)


def test_another_person_viewing_is_a_custody_event_of_its_own(client, make_user, sign_in,
                                                              case_of, app, monkeypatch):
    case = case_of("other")
    item = _store(make_user, case, synthetic_png(seed=109), "a.png")
    url = f"/cases/{case.reference}/evidence/{item.id}/content"
    sign_in(make_user("agent"))
    client.get(url)
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/dashboard").text)})
    sign_in(make_user("agent"))
    client.get(url)
    assert len({e.actor_id for e in _viewed(item.id)}) == 2
    # A window of 0 counts every view.
    monkeypatch.setitem(app.config, "REFERRALS_SETTINGS", dataclasses.replace(
        app.config["REFERRALS_SETTINGS"], evidence_view_window_seconds=0))
    client.get(url)
    assert len(_viewed(item.id)) == 3
