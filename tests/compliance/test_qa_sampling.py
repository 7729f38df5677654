"""Issue 15: QA sampling — a reproducible draw of a configurable share of disclosures, findings
recorded by compliance and tracked by staff to closure, all audited."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import timedelta
from fractions import Fraction

import pytest
from sqlalchemy import select

from config import ConfigError, load_settings
from referrals.audit.models import AuditEvent
from referrals.core.clock import now
from referrals.core.errors import DomainError, InvalidInput, PermissionDenied
from referrals.core.identity import Identity, system_identity
from referrals.disclosures import qa
from referrals.disclosures.models import Disclosure
from referrals.extensions import db
from tests import factories
from tests.conftest import Client, SignIn, csrf_from


def disclosures(n: int, at=None) -> list[Disclosure]:
    agency = factories.AgencyFactory(country="GB")
    approver = factories.make_user("supervisor")
    made = [Disclosure(kind="production", agency_id=agency.id, recipient_name=agency.name,
                       recipient_country="GB", legal_basis="Synthetic basis",
                       approved_by_id=approver.id, disclosed_by_id=approver.id,
                       disclosed_at=(at or now()) - timedelta(minutes=15))
            for _ in range(n)]
    db.session.add_all(made)
    db.session.flush()
    return made


def person(role):
    return Identity.for_user(factories.make_user(role))


def by_hand(seed: str, disclosure_id: int, rate: str) -> bool:
    """The rule as the README gives it, written out again independently."""
    number = int(hashlib.sha256(f"{seed}:{disclosure_id}".encode()).hexdigest(), 16)
    return number < Fraction(rate) * 2**256


def test_a_draw_is_reproducible_from_its_record_alone(app):
    made = disclosures(200)
    reviewer = person("compliance")
    draw = qa.draw_sample(reviewer, "0.25")
    chosen = sorted(s.disclosure_id for s in draw.samples)
    assert chosen == [d.id for d in made if by_hand(draw.seed, d.id, "0.25")]
    assert draw.population == 200 and draw.drawn == len(chosen)
    assert 20 < len(chosen) < 80  # a quarter, give or take: the seed is random
    assert qa.recompute_draw(draw).matches
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "qa.drawn")).one()
    recorded = json.loads(event.after)
    assert (recorded["seed"], recorded["rate"], recorded["drawn"]) == (draw.seed, "0.25", chosen)
    assert event.actor_id == reviewer.user_id


def test_a_tampered_draw_no_longer_recomputes(app):
    disclosures(40)
    draw = qa.draw_sample(person("compliance"), "0.5", seed="f" * 64)
    db.session.delete(draw.samples[-1])
    db.session.flush()
    db.session.expire(draw)
    assert not qa.recompute_draw(draw).matches


def test_the_next_draw_takes_only_what_was_released_since(app, frozen):
    start = frozen(now())
    disclosures(10)
    first = qa.draw_sample(person("compliance"), "1")
    frozen(start + timedelta(hours=1))
    later = disclosures(3)
    second = qa.draw_sample(system_identity("job: qa draw"), "1")
    assert first.population == 10 and second.population == 3
    assert sorted(s.disclosure_id for s in second.samples) == [d.id for d in later]
    assert second.window_start == first.window_end
    assert second.drawn_by_label == "job: qa draw"


def test_a_release_still_settling_waits_for_the_next_draw(app, frozen):
    """A disclosure released just before the draw (its transaction may still be open
    elsewhere) is left to the next draw, so that every draw recomputes to what it drew."""
    start = frozen(now())
    settled = disclosures(2)
    recent = disclosures(1, at=start + qa.SETTLE)  # released 5 minutes ago
    first = qa.draw_sample(person("compliance"), "1")
    assert sorted(s.disclosure_id for s in first.samples) == [d.id for d in settled]
    with pytest.raises(DomainError):  # nothing new has settled yet
        qa.draw_sample(person("compliance"), "1")
    frozen(start + qa.SETTLE + timedelta(minutes=1))
    second = qa.draw_sample(person("compliance"), "1")
    assert [s.disclosure_id for s in second.samples] == [recent[0].id]
    assert qa.recompute_draw(first).matches and qa.recompute_draw(second).matches


def test_only_compliance_or_the_system_draws(app):
    for role in ("agent", "supervisor", "admin"):
        with pytest.raises(PermissionDenied):
            qa.draw_sample(person(role), "0.1")


@pytest.mark.parametrize("rate", ["0", "1.5", "-0.1", "ten", ""])
def test_a_rate_outside_0_to_1_is_refused(app, rate):
    with pytest.raises(InvalidInput):
        qa.draw_sample(person("compliance"), rate)


@pytest.mark.parametrize("raw", ["0", "2", "0.12345", "abc", "nan"])
def test_the_setting_refuses_a_rate_that_is_not_a_share(raw):
    with pytest.raises(ConfigError):
        load_settings({"REFERRALS_ENV": "test", "REFERRALS_QA_SAMPLE_RATE": raw})


def test_the_setting_is_read(app):
    assert load_settings({"REFERRALS_ENV": "test", "REFERRALS_QA_SAMPLE_RATE": "0.05"}
                         ).qa_sample_rate == "0.05"


def test_a_finding_is_tracked_to_closure_each_step_audited(app):
    disclosures(1)
    draw = qa.draw_sample(person("compliance"), "1")
    sample = draw.samples[0]
    reviewer, supervisor = person("compliance"), person("supervisor")
    agent = factories.make_user("agent")
    finding = qa.record_finding(reviewer, sample, "over_disclosure",
                                "Content data left on a subpoena.")
    assert qa.open_findings_count() == 1
    qa.assign_finding(supervisor, finding, agent.id)
    with pytest.raises(PermissionDenied):  # someone else's finding
        qa.respond_to_finding(person("agent"), finding, "Not mine")
    qa.respond_to_finding(Identity.for_user(agent), finding, "The warrant covered it.")
    with pytest.raises(PermissionDenied):  # compliance changes nothing but its findings
        qa.close_finding(reviewer, finding, "Done")
    qa.close_finding(supervisor, finding, "Checked the warrant: content was covered.")
    assert finding.status == "closed" and qa.open_findings_count() == 0
    with pytest.raises(DomainError):
        qa.respond_to_finding(supervisor, finding, "Too late")
    actions = [e.action for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "qa_finding",
                                 AuditEvent.object_id == str(finding.id))
        .order_by(AuditEvent.seq))]
    assert actions == ["qa.finding_recorded", "qa.finding_assigned", "qa.finding_responded",
                       "qa.finding_closed"]


def test_findings_need_a_known_category_and_notes(app):
    disclosures(1)
    sample = qa.draw_sample(person("compliance"), "1").samples[0]
    with pytest.raises(InvalidInput):
        qa.record_finding(person("compliance"), sample, "bad_vibes", "notes")
    with pytest.raises(InvalidInput):
        qa.record_finding(person("compliance"), sample, "other", "   ")
    with pytest.raises(PermissionDenied):
        qa.record_finding(person("supervisor"), sample, "other", "notes")


def test_the_pages_walk_a_finding_from_draw_to_closure(app, client, sign_in, monkeypatch):
    monkeypatch.setitem(app.config, "REFERRALS_SETTINGS",
                        replace(app.config["REFERRALS_SETTINGS"], qa_sample_rate="1"))
    disclosures(2)
    reviewer = factories.make_user("compliance")
    sign_in(reviewer)
    page = client.get("/compliance/qa/")
    response = client.post("/compliance/qa/draw", data={"csrf_token": csrf_from(page.text)})
    assert response.status_code == 302
    listing = client.get("/compliance/qa/").text
    assert "Drew 2 of 2 disclosures for review (rate 1)" in listing
    sample = qa.samples_to_review()[0]
    page = client.get(f"/compliance/qa/samples/{sample.id}")
    empty = client.post(f"/compliance/qa/samples/{sample.id}/findings",
                        data={"csrf_token": csrf_from(page.text), "finding-category": "other"})
    assert empty.status_code == 422 and "Say what you found." in empty.text
    done = client.post(f"/compliance/qa/samples/{sample.id}/findings", data={
        "csrf_token": csrf_from(page.text), "finding-category": "notice_not_given",
        "finding-notes": "The NDO ended in March; no notice went out."})
    assert done.status_code == 302
    finding_page = client.get(done.headers["Location"]).text
    assert "User notice not given" in finding_page
    assert 'id="close-form"' not in finding_page  # compliance does not close
    dash = client.get("/dashboard/oversight").text
    assert 'id="qa-card"' in dash and "<strong>1</strong>" in dash.split('id="qa-card"')[1]


def signed_in(app, user):
    app.test_client_class = Client
    client = app.test_client()
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    client.environ_base["REMOTE_ADDR"] = f"10.9.{user.id % 250}.{user.id % 200 + 1}"
    SignIn(client)(user)
    return client


def test_staff_take_a_finding_to_closure_on_its_page(app):
    disclosures(1)
    sample = qa.draw_sample(person("compliance"), "1").samples[0]
    finding = qa.record_finding(person("compliance"), sample, "missing_approval", "No approver.")
    supervisor, agent, other = (factories.make_user("supervisor"), factories.make_user("agent"),
                                factories.make_user("agent"))
    url = f"/compliance/qa/findings/{finding.id}"

    client = signed_in(app, other)  # not assigned: no answer offered, a post refused in words
    page = client.get(url)
    assert 'id="respond-form"' not in page.text
    refused = client.post(f"{url}/respond", data={"csrf_token": csrf_from(page.text),
                                                  "respond-response": "Mine now"})
    assert refused.status_code == 422 and "permission" in refused.text
    assert finding.response == ""

    boss = signed_in(app, supervisor)
    page = boss.get(url)
    assigned = boss.post(f"{url}/assign", data={"csrf_token": csrf_from(page.text),
                                                "assign-assignee_id": str(agent.id)})
    assert assigned.status_code == 302 and finding.assignee_id == agent.id

    client = signed_in(app, agent)
    page = client.get(url)
    assert 'id="respond-form"' in page.text and 'id="close-form"' not in page.text
    client.post(f"{url}/respond", data={"csrf_token": csrf_from(page.text),
                                        "respond-response": "The approver was on leave."})
    assert finding.status == "responded"

    page = boss.get(url)
    empty = boss.post(f"{url}/close", data={"csrf_token": csrf_from(page.text)})
    assert empty.status_code == 422 and "Say how the finding was resolved." in empty.text
    closed = boss.post(f"{url}/close", data={"csrf_token": csrf_from(page.text),
                                             "close-resolution": "Approval recorded late."})
    assert closed.status_code == 302 and finding.status == "closed"
    assert "Approval recorded late." in boss.get(url).text


def test_the_command_draws_and_verifies(app):
    from click.testing import CliRunner

    from referrals.compliance.cli import qa_cli

    disclosures(3)
    runner = CliRunner()
    with app.app_context():
        drawn = runner.invoke(qa_cli, ["draw"])
        assert drawn.exit_code == 0, drawn.output
        assert "of 3 disclosures at rate 0.1, seed " in drawn.output
        draw_id = int(drawn.output.split()[1].rstrip(":"))
        assert db.session.get(qa.QaDraw, draw_id).drawn_by_label == "command line: qa draw"
        verified = runner.invoke(qa_cli, ["verify", str(draw_id)])
        assert verified.exit_code == 0 and "matches" in verified.output
        missing = runner.invoke(qa_cli, ["verify", "999999"])
        assert missing.exit_code == 1 and "There is no draw 999999." in missing.output
