"""POST /api/v1/escalations: intake, idempotency, joining open cases, validation, tokens."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from referrals.cases import escalations, rules, services
from referrals.cases.models import Escalation, Identifier, ReportedContent, Subject
from referrals.core.clock import now
from referrals.core.identity import Identity
from referrals.extensions import db
from referrals.tokens.services import revoke_token
from referrals.tokens.models import ApiToken
from tests.cases.helpers import (SYSTEM, account, add_target, audit_after, audit_events,
                                 bearer, count_cases, escalation, make_token, open_case,
                                 reload_case, timeline)

REFERENCE = re.compile(r"^CASE-(\d{4})-(\d{6})$")


def _escalations() -> int:
    return db.session.scalar(select(func.count(Escalation.id)))


def _flat_errors(body: dict) -> dict[str, str]:
    """marshmallow's nested messages as {"json.accounts.0.identifiers.0.value": "…"}."""
    flat: dict[str, str] = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            flat[prefix] = " ".join(value)
        else:
            flat[prefix] = str(value)

    walk("", body.get("errors") or {})
    return flat


# --- a new escalation -------------------------------------------------------------------


def test_a_valid_escalation_opens_a_case(post_escalation, integration_user):
    before = now()
    body = escalation(category="violent_extremism", reason="hash_match",
                      summary="Synthetic: a made-up account.",
                      content=[{"platform_content_id": "c-1", "sha256": "ab" * 32,
                                "md5": "cd" * 16, "url": "https://platform.example/c/1"}])
    response = post_escalation(body)

    assert response.status_code == 201, response.json
    data = response.json
    match = REFERENCE.match(data["case_reference"])
    assert match and int(match.group(1)) == now().year
    assert (data["created"], data["attached"], data["duplicate"]) == (True, False, False)
    case = reload_case(data["case_reference"])
    assert case.category == "violent_extremism"
    assert case.priority == rules.DEFAULT_PRIORITY["violent_extremism"] == "P1"
    assert case.source == "hash_match" and case.status == "new" and case.is_open
    assert case.assignee_id is None and case.created_by_id == integration_user.id
    # First response target from the priority table, counted from receipt.
    assert before + timedelta(hours=24) <= case.response_due_at <= now() + timedelta(hours=24)
    escalation_row = db.session.get(Escalation, data["escalation_id"])
    assert escalation_row.case_id == case.id and not escalation_row.attached_to_existing
    subjects = list(db.session.scalars(select(Subject).where(Subject.case_id == case.id)))
    assert [s.label for s in subjects] == [body["accounts"][0]["label"]]
    reported = list(db.session.scalars(select(ReportedContent).where(ReportedContent.case_id == case.id)))
    assert [(r.platform_content_id, r.sha256) for r in reported] == [("c-1", "ab" * 32)]
    assert any("Opened from escalation test-hashmatcher" in e.body for e in timeline(case))


def test_the_received_escalation_is_audited(post_escalation):
    body = escalation()
    reference = post_escalation(body).json["case_reference"]

    [event] = audit_events("escalation.received", reference)
    after = audit_after(event)
    assert after["external_id"] == body["external_id"]
    assert after["source_system"] == "test-hashmatcher" and after["attached"] is False
    assert event.actor_label.endswith(")") and "token rfr_" in event.actor_label


def test_a_priority_given_by_the_source_is_kept(post_escalation, frozen):
    moment = frozen(now().replace(microsecond=0))
    response = post_escalation(escalation(category="other", priority="P0"))
    case = reload_case(response.json["case_reference"])
    assert case.priority == "P0"
    assert case.response_due_at == moment + timedelta(hours=1)


def test_the_same_escalation_twice_gives_the_same_case(post_escalation):
    body = escalation()
    first = post_escalation(body)
    # A retry may differ in details; the key (source_system, external_id) decides.
    retry = dict(body, accounts=[account("someone_else", ("email", "other@made-up.example"))])
    second = post_escalation(retry)

    assert first.status_code == 201
    assert second.status_code == 200, second.json
    assert second.json["case_reference"] == first.json["case_reference"]
    assert second.json["escalation_id"] == first.json["escalation_id"]
    assert (second.json["duplicate"], second.json["created"], second.json["attached"]) == (
        True, False, False)
    assert count_cases() == 1 and _escalations() == 1
    assert db.session.scalar(select(func.count(Identifier.id)).where(
        Identifier.normalized == "other@made-up.example")) == 0
    assert len(audit_events("escalation.received")) == 1


def test_the_same_external_id_from_another_source_is_a_new_escalation(post_escalation):
    body = escalation()
    first = post_escalation(body)
    second = post_escalation(dict(body, source_system="another-system",
                                  accounts=[account("x", ("platform_user_id", "u-unrelated"))]))
    assert second.status_code == 201
    assert second.json["case_reference"] != first.json["case_reference"]
    assert _escalations() == 2


def test_losing_a_race_on_the_same_key_leaves_no_stray_case(post_escalation, monkeypatch):
    """Regression: a request that lost the insert race used to leave its new case behind."""
    from referrals.cases import escalations

    body = escalation()
    first = post_escalation(body)
    assert count_cases() == 1
    # The second request's first look finds nothing (the winner had not committed yet).
    real = escalations._find_existing
    calls = []

    def late(source_system, external_id):
        calls.append(1)
        return None if len(calls) == 1 else real(source_system, external_id)

    monkeypatch.setattr(escalations, "_find_existing", late)
    second = post_escalation(dict(body, accounts=[account("y", ("platform_user_id", "u-racer"))]))

    assert second.status_code == 200, second.json
    assert second.json["duplicate"] is True
    assert second.json["case_reference"] == first.json["case_reference"]
    assert count_cases() == 1 and _escalations() == 1


# --- joining an open case ---------------------------------------------------------------

MATCHES = [
    # (kind, as stored on the open case, as the new escalation writes it)
    ("platform_user_id", "u-4471", "u-4471"),
    ("email", "Made.Up.Person@Example.ORG", "made.up.person@example.org"),
    ("phone", "+1 202 555 0143", "(202) 555-0143"),
    ("username", "@Made_Up_User", "made_up_user"),
    ("device_id", "AB12-CD34", "ab12-cd34"),
]


@pytest.mark.parametrize("kind, stored, sent", MATCHES, ids=[m[0] for m in MATCHES])
def test_an_escalation_sharing_an_identifier_joins_the_open_case(
        post_escalation, make_user, kind, stored, sent):
    agent = make_user("agent")
    case = open_case(agent, category="other", priority="P2")
    add_target(agent, case, (kind, stored))
    reference = case.reference

    response = post_escalation(escalation(
        category="other", priority="P3",
        accounts=[account("made_up_alias", (kind, sent), ("platform_user_id", "u-new-9"))]))

    assert response.status_code == 201, response.json
    assert response.json["case_reference"] == reference
    assert (response.json["attached"], response.json["created"]) == (True, False)
    assert count_cases() == 1
    case = reload_case(reference)
    assert case.priority == "P2"  # a less urgent escalation never lowers it
    assert db.session.get(Escalation, response.json["escalation_id"]).attached_to_existing
    assert any("attached" in e.body and e.kind == "escalation" for e in timeline(case))
    # The new identifier was added to the subject that shared one, not to a new subject.
    subjects = list(db.session.scalars(select(Subject).where(Subject.case_id == case.id)))
    assert len(subjects) == 1
    assert {i.normalized for i in subjects[0].identifiers} >= {"u-new-9"}
    assert audit_after(audit_events("escalation.received", reference)[0])["attached"] is True


def test_a_more_urgent_escalation_raises_the_priority(post_escalation, make_user, frozen):
    moment = frozen(now().replace(microsecond=0))
    agent = make_user("agent")
    case = open_case(agent, category="other", priority="P3")
    add_target(agent, case, ("email", "target@made-up.example"))
    assert case.response_due_at == moment + timedelta(days=10)
    reference = case.reference

    later = frozen(moment + timedelta(minutes=5))
    response = post_escalation(escalation(
        category="imminent_harm", accounts=[account("t", ("email", "TARGET@made-up.example"))]))

    assert response.json["attached"] is True
    case = reload_case(reference)
    assert case.priority == "P0" and case.priority_rank == 0
    assert case.response_due_at == later + timedelta(hours=1)
    assert case.queue_due_at == case.response_due_at
    assert any(e.kind == "priority" and "P0" in e.body for e in timeline(case))
    assert audit_events("case.priority_raised", reference)


def test_an_ip_address_alone_does_not_join_cases(post_escalation, make_user):
    agent = make_user("agent")
    case = open_case(agent)
    add_target(agent, case, ("ip", "198.51.100.23"), ("platform_user_id", "u-first"))

    response = post_escalation(escalation(
        accounts=[account("other", ("ip", "198.51.100.23"), ("platform_user_id", "u-second"))]))

    assert response.status_code == 201
    assert response.json["attached"] is False and response.json["created"] is True
    assert response.json["case_reference"] != case.reference
    assert count_cases() == 2


def test_a_match_with_a_closed_case_opens_a_new_one(post_escalation, make_user):
    agent = make_user("agent")
    case = open_case(agent)
    add_target(agent, case, ("platform_user_id", "u-closed"))
    services.change_status(Identity.for_user(agent), case, "closed")
    reference = case.reference

    response = post_escalation(escalation(accounts=[account("again", ("platform_user_id", "u-closed"))]))

    assert response.status_code == 201
    assert response.json["created"] is True and response.json["attached"] is False
    assert response.json["case_reference"] != reference
    assert reload_case(reference).status == "closed"
    assert count_cases() == 2


def test_two_escalations_about_the_same_account_share_a_case(post_escalation):
    first = post_escalation(escalation(accounts=[account("a", ("username", "@Made_Up_Twin"))]))
    second = post_escalation(escalation(accounts=[account("b", ("username", "made_up_twin"))]))
    assert second.json["case_reference"] == first.json["case_reference"]
    assert second.json["attached"] is True
    assert count_cases() == 1 and _escalations() == 2


# --- normal forms -----------------------------------------------------------------------


def test_identifiers_are_stored_as_entered_and_normalised(post_escalation):
    response = post_escalation(escalation(accounts=[account(
        "normal_forms",
        ("phone", "(202) 555-0143"),
        ("email", "  Some.One+Tag@Example.ORG "),
        ("ip", "::ffff:192.0.2.10"),
        ("ip", "2001:DB8:0:0::1"),
        ("username", "@Made_Up_USER"),
        ("device_id", "AB-CD-EF"),
    )]))
    assert response.status_code == 201, response.json
    case = reload_case(response.json["case_reference"])
    stored = {(i.kind, i.value): i.normalized for i in db.session.scalars(
        select(Identifier).where(Identifier.case_id == case.id))}
    assert stored == {
        ("phone", "(202) 555-0143"): "+12025550143",
        ("email", "Some.One+Tag@Example.ORG"): "some.one+tag@example.org",
        ("ip", "::ffff:192.0.2.10"): "192.0.2.10",
        ("ip", "2001:DB8:0:0::1"): "2001:db8::1",
        ("username", "@Made_Up_USER"): "made_up_user",
        ("device_id", "AB-CD-EF"): "ab-cd-ef",
    }


def test_an_ip_keeps_its_time_and_port(post_escalation):
    seen = "2026-01-05T10:00:00+01:00"
    body = escalation(accounts=[{"label": "cgnat", "identifiers": [
        {"kind": "ip", "value": "203.0.113.9", "observed_at": seen, "port": 40123}]}])
    response = post_escalation(body)
    assert response.status_code == 201, response.json
    [identifier] = db.session.scalars(select(Identifier).where(Identifier.kind == "ip"))
    assert identifier.port == 40123
    assert identifier.observed_at.isoformat() == "2026-01-05T09:00:00+00:00"


# --- validation -------------------------------------------------------------------------


def _without(key):
    def change(body):
        del body[key]
    return change


def _set(path, value):
    def change(body):
        target = body
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
    return change


INVALID = [
    ("missing source_system", _without("source_system"), "source_system", "required"),
    ("missing external_id", _without("external_id"), "external_id", "required"),
    ("missing detected_at", _without("detected_at"), "detected_at", "required"),
    ("missing accounts", _without("accounts"), "accounts", "required"),
    ("wrong category", _set(["category"], "spam"), "category", "one of"),
    ("wrong reason", _set(["reason"], "gut_feeling"), "reason", "one of"),
    ("wrong priority", _set(["priority"], "P9"), "priority", "one of"),
    ("naive datetime", _set(["detected_at"], "2026-01-05T10:00:00"), "detected_at", "time zone"),
    ("not a datetime", _set(["detected_at"], "yesterday"), "detected_at", "ISO 8601"),
    ("future detected_at", lambda b: b.update(
        detected_at=(now() + timedelta(days=2)).isoformat()), "detected_at", "future"),
    ("bad sha256 hex", _set(["content"], [{"sha256": "zz" * 32}]), "content.0.sha256", "hexadecimal"),
    ("short md5", _set(["content"], [{"md5": "ab" * 15}]), "content.0.md5", "32 hexadecimal"),
    ("bad content url", _set(["content"], [{"url": "javascript:alert(1)"}]), "content.0.url", "URL"),
    ("empty accounts", _set(["accounts"], []), "accounts", "Length"),
    ("account without identifiers", _set(["accounts", 0, "identifiers"], []),
     "accounts.0.identifiers", "Length"),
    ("unknown identifier kind", _set(["accounts", 0, "identifiers", 0, "kind"], "shoe_size"),
     "accounts.0.identifiers.0.kind", "one of"),
    ("bad phone", _set(["accounts", 0, "identifiers"], [{"kind": "phone", "value": "12"}]),
     "accounts.0.identifiers.0.value", "phone"),
    ("letters for a phone", _set(["accounts", 0, "identifiers"], [{"kind": "phone", "value": "call me"}]),
     "accounts.0.identifiers.0.value", "phone"),
    ("bad e-mail", _set(["accounts", 0, "identifiers"], [{"kind": "email", "value": "nobody"}]),
     "accounts.0.identifiers.0.value", "e-mail"),
    ("bad ip", _set(["accounts", 0, "identifiers"], [{"kind": "ip", "value": "999.1.1.1"}]),
     "accounts.0.identifiers.0.value", "IP"),
    ("blank value", _set(["accounts", 0, "identifiers"], [{"kind": "username", "value": "   "}]),
     "accounts.0.identifiers.0.value", ""),
    ("port on a phone", _set(["accounts", 0, "identifiers"],
                             [{"kind": "phone", "value": "+12025550143", "port": 80}]),
     "accounts.0.identifiers.0.observed_at", "IP"),
    ("port out of range", _set(["accounts", 0, "identifiers"],
                               [{"kind": "ip", "value": "192.0.2.1", "port": 70000}]),
     "accounts.0.identifiers.0.port", ""),
    ("unknown field", _set(["colour"], "red"), "colour", "Unknown"),
]


@pytest.mark.parametrize("change, field, reason", [i[1:] for i in INVALID], ids=[i[0] for i in INVALID])
def test_invalid_escalations_are_refused_naming_the_field(post_escalation, change, field, reason):
    body = escalation()
    change(body)
    response = post_escalation(body)

    assert response.status_code == 422, response.text
    assert response.is_json
    errors = _flat_errors(response.json)
    named = {key.removeprefix("json.") for key in errors}
    assert field in named, errors
    assert reason.lower() in errors.get(f"json.{field}", "").lower(), errors
    assert count_cases() == 0 and _escalations() == 0


@pytest.mark.parametrize("raw, content_type", [
    (b"{not json", "application/json"),
    (b'["a list"]', "application/json"),
    (b"null", "application/json"),
    (b"\xff\xfe\x00", "application/json"),
    (b"source_system=x", "application/x-www-form-urlencoded"),
])
def test_a_body_that_is_not_an_escalation_is_refused_plainly(client, escalation_token, raw, content_type):
    response = client.post("/api/v1/escalations", data=raw, content_type=content_type,
                           headers=bearer(escalation_token))
    assert response.status_code in (400, 422), response.text
    assert response.is_json and response.json["message"]
    assert count_cases() == 0


# --- tokens -----------------------------------------------------------------------------


def _refused(response, status):
    assert response.status_code == status, response.text
    assert response.is_json and response.json["message"]
    assert count_cases() == 0 and _escalations() == 0


def test_no_token_is_401(client):
    response = client.post("/api/v1/escalations", json=escalation())
    _refused(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", [
    "Bearer ", "Basic dXNlcjpwYXNz", "Bearer rfr_unknown-token-made-up", "Bearer not-even-ours",
    "Bearer rfr_" + "x" * 300, "bearer",
])
def test_an_unknown_or_malformed_token_is_401(client, header):
    _refused(client.post("/api/v1/escalations", json=escalation(),
                         headers={"Authorization": header}), 401)


def test_a_revoked_token_is_401(post_escalation, integration_user):
    secret = make_token(integration_user, "escalations:write")
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == integration_user.id,
                                                     ApiToken.revoked_at.is_(None))
                              .order_by(ApiToken.id.desc()))
    revoke_token(SYSTEM, token)
    _refused(post_escalation(escalation(), token=secret), 401)


def test_an_expired_token_is_401(post_escalation, integration_user, frozen):
    moment = frozen(now())
    secret = make_token(integration_user, "escalations:write", expires_at=moment + timedelta(hours=1))
    assert post_escalation(escalation(), token=secret).status_code == 201
    frozen(moment + timedelta(hours=1))
    response = post_escalation(escalation(), token=secret)
    assert response.status_code == 401 and count_cases() == 1


def test_a_token_without_the_scope_is_403(post_escalation, make_user):
    secret = make_token(make_user("agent"), "cases:read", "evidence:write")
    _refused(post_escalation(escalation(), token=secret), 403)


def test_a_token_of_a_disabled_account_is_401(post_escalation, integration_user, escalation_token):
    integration_user.active = False
    db.session.flush()
    _refused(post_escalation(escalation()), 401)


def test_a_sign_in_lockout_does_not_stop_the_accounts_tokens(post_escalation, integration_user):
    """Issue 10, finding 7: five wrong passwords from anyone must not stop the pipeline."""
    integration_user.locked_at = now()
    db.session.flush()
    assert post_escalation(escalation()).status_code == 201


def test_a_signed_in_session_is_not_a_token(client, as_role):
    """Cookies do not authenticate the API: a signed-in supervisor still needs a token."""
    as_role("supervisor")
    _refused(client.post("/api/v1/escalations", json=escalation()), 401)


def test_the_token_records_its_last_use(post_escalation, integration_user, escalation_token):
    post_escalation(escalation())
    db.session.expire_all()
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == integration_user.id))
    assert token.last_used_at is not None


# --- reading a case ---------------------------------------------------------------------


def test_reading_a_case_needs_cases_read(client, post_escalation, make_user):
    reference = post_escalation(escalation()).json["case_reference"]
    reader = make_user("agent")
    with_scope = make_token(reader, "cases:read")
    without = make_token(reader, "evidence:read")

    response = client.get(f"/api/v1/cases/{reference}", headers=bearer(with_scope))
    assert response.status_code == 200, response.text
    assert response.json["reference"] == reference
    assert response.json["assigned"] is False
    assert set(response.json) == {"reference", "title", "category", "priority", "status",
                                  "source", "created_at", "response_due_at", "assigned"}
    assert client.get(f"/api/v1/cases/{reference}", headers=bearer(without)).status_code == 403
    missing = client.get("/api/v1/cases/CASE-1999-000001", headers=bearer(with_scope))
    assert missing.status_code == 404 and missing.is_json
    assert client.get(f"/api/v1/cases/{reference}").status_code == 401


def test_a_cases_read_token_of_an_account_without_a_case_role_is_403(client, post_escalation,
                                                                    make_user):
    reference = post_escalation(escalation()).json["case_reference"]
    agent = make_user("agent")
    secret = make_token(agent, "cases:read")
    agent.roles = []  # roles change after the token was made
    db.session.flush()
    assert client.get(f"/api/v1/cases/{reference}", headers=bearer(secret)).status_code == 403


@pytest.mark.parametrize("field", ["detected_at", "observed_at"])
@pytest.mark.parametrize("value", ["0001-01-01T00:30:00+01:00", "1969-12-31T23:59:59Z",
                                   "0001-01-01T00:00:00Z"])
def test_timestamps_from_before_1970_are_refused(post_escalation, field, value):
    """Regression: year 1 with a positive offset has no UTC form and answered 500."""
    body = escalation()
    if field == "detected_at":
        body["detected_at"] = value
        path = "json.detected_at"
    else:
        body["accounts"][0]["identifiers"] = [{"kind": "ip", "value": "192.0.2.1",
                                               "observed_at": value}]
        path = "json.accounts.0.identifiers.0.observed_at"
    response = post_escalation(body)
    assert response.status_code == 422, response.text
    assert "1970" in _flat_errors(response.json)[path]
    assert count_cases() == 0


@pytest.mark.parametrize("ahead, status", [(timedelta(minutes=3), 201),
                                           (timedelta(minutes=10), 422)])
def test_a_few_minutes_of_clock_skew_are_allowed(post_escalation, frozen, ahead, status):
    moment = frozen(now())
    response = post_escalation(escalation(detected_at=(moment + ahead).isoformat()))
    assert response.status_code == status, response.text


def test_a_refusal_by_the_database_that_is_not_the_duplicate_race_says_what_it_is(
        post_escalation, monkeypatch):
    """Only a second escalation with the same key is answered as a duplicate; any other
    constraint that refuses (here: a case id the sequence handed out twice) is reported as
    that, not as a generic error or a crash looking for the duplicate."""
    def collide(*args, **kwargs):
        raise IntegrityError("INSERT INTO cases …", {}, Exception(
            'duplicate key value violates unique constraint "pk_cases"'))

    monkeypatch.setattr(escalations.services, "open_case", collide)
    response = post_escalation(escalation())
    assert response.status_code == 500
    body = response.get_json()
    assert body["status"] == "Refused by the database"
    assert 'unique constraint "pk_cases"' in body["message"]
