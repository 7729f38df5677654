"""Issue 15: the supervisor and compliance dashboard — requests by type over time, emergencies'
time to first response (median, 90th percentile) against the target, holds expiring, overdue
work, QA findings open."""

from __future__ import annotations

from datetime import timedelta

from referrals.audit.services import record_event
from referrals.core.clock import now
from referrals.core.identity import Identity, system_identity
from referrals.dashboard.oversight import oversight, requests_by_month
from tests import factories
from tests.compliance.history import History


def test_emergency_first_response_median_and_p90_against_the_target(app, frozen):
    at = frozen(now().replace(microsecond=0))
    history = History()
    agency = history.agency("Synthetic Oversight PD", "US")
    staff = Identity.for_user(factories.make_user("agent"))
    answers = {1: timedelta(minutes=10), 2: timedelta(minutes=30), 3: timedelta(hours=2)}
    for number in (1, 2, 3, 4):
        received = at - timedelta(days=number)
        request = history.request(number, agency, "emergency", received)
        # a page view and the system's own step are not a response
        record_event(staff, "request.viewed", object_type="request", object_id=request.reference,
                     occurred_at=received + timedelta(minutes=1))
        record_event(system_identity("job"), "request.routed", object_type="request",
                     object_id=request.reference, occurred_at=received + timedelta(minutes=2))
        if number in answers:
            record_event(staff, "request.moved", object_type="request",
                         object_id=request.reference, occurred_at=received + answers[number])
    old = history.request(9, agency, "emergency", at - timedelta(days=45))  # outside 30 days
    record_event(staff, "request.moved", object_type="request", object_id=old.reference,
                 occurred_at=old.received_at + timedelta(hours=9))

    view = oversight(Identity.for_user(factories.make_user("supervisor")))
    assert view.target == timedelta(hours=1)
    assert len(view.emergencies) == 4
    assert view.median == timedelta(minutes=30)
    assert view.p90 == timedelta(hours=2)
    assert (view.within_target, view.unanswered) == (2, 1)


def test_requests_by_month_count_each_type_in_its_calendar_month(app, frozen):
    at = frozen(now().replace(day=15, hour=12, minute=0, second=0, microsecond=0))
    history = History()
    agency = history.agency("Synthetic Monthly PD", "GB")
    history.request(1, agency, "uk_opo", at - timedelta(days=1))
    history.request(2, agency, "uk_opo", at - timedelta(days=2))
    history.request(3, agency, "emergency", at - timedelta(days=3))
    history.request(4, agency, "preservation", at.replace(day=1) - timedelta(days=3))
    months = requests_by_month(at)
    assert len(months) == 6 and months[-1].label == f"{at:%Y-%m}"
    assert months[-1].by_type == {"uk_opo": 2, "emergency": 1}
    assert (months[-1].group("legal"), months[-1].group("emergency")) == (2, 1)
    assert months[-2].by_type == {"preservation": 1}


def test_the_page_shows_the_numbers_to_supervisors_and_compliance(app, client, as_role):
    as_role("compliance")
    page = client.get("/dashboard/oversight")
    assert page.status_code == 200
    for part in ("Overdue requests", "Overdue cases", "Holds expiring", "QA findings open",
                 "90th percentile", 'id="chart-requests-by-month"'):
        assert part in page.text


def test_the_home_points_supervisors_to_open_qa_findings(app, client, as_role):
    from referrals.disclosures.qa import draw_sample, record_finding
    from tests.compliance.test_qa_sampling import disclosures

    disclosures(1)
    reviewer = Identity.for_user(factories.make_user("compliance"))
    record_finding(reviewer, draw_sample(reviewer, "1").samples[0], "other", "Synthetic")
    as_role("supervisor")
    card = client.get("/dashboard").text.split('id="oversight-card"')[1].split("</a>")[0]
    assert "1 QA finding open." in card and 'href="/dashboard/oversight"' in card
