"""The demo seed: who it creates, that running it again changes nothing, and `demo totp`."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from sqlalchemy import func, select, text

from referrals.accounts.models import Role, User
from referrals.agencies.models import Agency
from referrals.audit.models import AuditEvent
from referrals.audit.services import verify_chain
from referrals.cases.models import Case, Identifier
from referrals.core.identity import STAFF_ROLES
from referrals.demo.seed import DEMO_AGENCIES, DEMO_DOMAIN, demo_password, seed_demo
from referrals.extensions import db
from tests import factories
from tests.cases.helpers import bearer, escalation, make_token
from tests.conftest import Client, SignIn

CODE = re.compile(r"^(\d{6})\s", re.MULTILINE)


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _counts() -> dict[str, int]:
    return {model.__name__: _count(model) for model in (User, Agency, Role, AuditEvent)}


def _user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


@pytest.fixture
def cli(app, checkpoint_dir):
    return app.test_cli_runner()


def test_seed_creates_one_user_per_role_and_two_agencies_with_an_officer_each():
    before = _counts()
    rows = seed_demo()
    db.session.flush()

    for role in STAFF_ROLES:
        user = _user(f"{role}@{DEMO_DOMAIN}")
        assert user is not None, role
        assert user.kind == "staff" and user.role_names == [role]
        assert user.active and not user.password_change_required
        assert user.tf_totp_secret and user.tf_primary_method == "authenticator"

    agencies = db.session.scalars(
        select(Agency).where(Agency.name.in_([a["name"] for a in DEMO_AGENCIES]))
    ).all()
    assert len(agencies) == 2
    for agency in agencies:
        officers = db.session.scalars(select(User).where(User.agency_id == agency.id)).all()
        assert len(officers) == 1, agency.name
        officer = officers[0]
        assert officer.kind == "agency" and officer.role_names == []
        assert officer.tf_totp_secret and officer.tf_primary_method == "authenticator"

    after = _counts()
    assert after["User"] - before["User"] == len(STAFF_ROLES) + 2
    assert after["Agency"] - before["Agency"] == 2
    assert after["Role"] == before["Role"] == len(STAFF_ROLES)
    assert {row["email"] for row in rows} == (
        {f"{role}@{DEMO_DOMAIN}" for role in STAFF_ROLES} | {a["officer"][0] for a in DEMO_AGENCIES}
    )
    assert verify_chain().ok


def test_seeding_twice_through_the_cli_creates_nothing_new(cli, checkpoint_dir):
    first = cli.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    assert f"admin@{DEMO_DOMAIN}" in first.output
    counts = _counts()
    assert counts["User"] >= len(STAFF_ROLES) + 2

    second = cli.invoke(args=["demo", "seed"])
    assert second.exit_code == 0, second.output
    assert _counts() == counts  # no user, agency, role or audit event added
    # The first seed signed a checkpoint; the second had nothing new to sign.
    assert len(list(checkpoint_dir.glob("checkpoint-*.json"))) == 1
    assert "Audit checkpoint of event" in first.output
    assert "Audit checkpoint of event" not in second.output
    report = verify_chain()
    assert report.ok, report.reason
    assert report.checked == counts["AuditEvent"]


@pytest.mark.parametrize(
    ("email", "lands_on"),
    [(f"admin@{DEMO_DOMAIN}", "/dashboard"), (DEMO_AGENCIES[0]["officer"][0], "/portal/")],
)
def test_demo_totp_prints_a_code_that_signs_the_user_in(app, cli, email, lands_on):
    assert cli.invoke(args=["demo", "seed"]).exit_code == 0
    result = cli.invoke(args=["demo", "totp", email])
    assert result.exit_code == 0, result.output
    match = CODE.search(result.output)
    assert match, result.output

    app.test_client_class = Client
    client = app.test_client()
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    sign_in = SignIn(client)
    response = sign_in.password_step(email, demo_password(email))
    assert response.status_code == 302 and "/tf-validate" in response.headers["Location"]
    response = sign_in.code_step(match.group(1))
    assert response.status_code == 302, response.text
    home = client.get("/")
    assert home.status_code == 302 and home.headers["Location"].endswith(lands_on)
    assert client.get(lands_on).status_code == 200


def test_demo_totp_refuses_a_non_demo_account(cli, make_user):
    user = make_user("admin")
    result = cli.invoke(args=["demo", "totp", user.email])
    assert result.exit_code != 0
    assert "not a demo account" in result.output
    assert not CODE.search(result.output)


def test_demo_totp_refuses_an_unknown_account(cli):
    result = cli.invoke(args=["demo", "totp", f"nobody@{DEMO_DOMAIN}"])
    assert result.exit_code != 0
    assert "not a demo account" in result.output


def _as_production(app, monkeypatch) -> None:
    production = replace(app.config["REFERRALS_SETTINGS"], environment="production")
    monkeypatch.setitem(app.config, "REFERRALS_SETTINGS", production)


def test_demo_seed_refuses_to_run_in_production(app, cli, monkeypatch):
    # Regression: `demo seed` on a production deployment created an admin whose password
    # and TOTP secret anyone can derive from the source code.
    assert _user(f"admin@{DEMO_DOMAIN}") is None
    counts = _counts()
    _as_production(app, monkeypatch)
    result = cli.invoke(args=["demo", "seed"])
    assert result.exit_code != 0
    assert "production" in result.output
    assert _counts() == counts
    assert _user(f"admin@{DEMO_DOMAIN}") is None


def test_demo_totp_refuses_to_run_in_production(app, cli, monkeypatch):
    assert cli.invoke(args=["demo", "seed"]).exit_code == 0
    _as_production(app, monkeypatch)
    result = cli.invoke(args=["demo", "totp", f"admin@{DEMO_DOMAIN}"])
    assert result.exit_code != 0
    assert "production" in result.output
    assert not CODE.search(result.output)


def test_seed_makes_sample_requests_with_a_hold_and_an_internal_hold_once():
    from referrals.holds.models import PreservationHold
    from referrals.requests.models import DisclosureRequest

    seed_demo()
    db.session.flush()
    requests = db.session.scalars(select(DisclosureRequest).order_by(DisclosureRequest.id)).all()
    assert [r.request_type for r in requests] == ["preservation", "court_order_2703d"]
    assert all(r.deadline_at is not None or r.request_type == "preservation" for r in requests)
    holds = db.session.scalars(select(PreservationHold).order_by(PreservationHold.id)).all()
    assert [h.kind for h in holds] == ["us_2703f", "internal"]
    assert holds[0].request_id == requests[0].id and holds[0].expires_at is not None
    assert holds[1].case_id is not None and holds[1].review_due_at is not None
    seed_demo()
    db.session.flush()
    assert _count(DisclosureRequest) == 2 and _count(PreservationHold) == 2
    assert verify_chain().ok


def test_seed_with_cases_makes_them_and_the_app_keeps_opening_cases(cli, client):
    """`demo seed --cases N` inserts with explicit ids; on PostgreSQL it must move the id
    sequences past them, or the next case opened collides with a seeded one."""
    assert cli.invoke(args=["demo", "seed"]).exit_code == 0  # the accounts and sample cases
    before = _count(Case)
    result = cli.invoke(args=["demo", "seed", "--cases", "30", "--audit-events", "400"])
    assert result.exit_code == 0, result.output
    assert "30 cases, 90 identifiers" in result.output
    assert _count(Case) == before + 30 and _count(Identifier) >= 90
    assert verify_chain().ok

    secret = make_token(factories.make_user(None, enrolled=False), "escalations:write")
    response = client.post("/api/v1/escalations", json=escalation(), headers=bearer(secret))
    assert response.status_code == 201, response.text
    assert _count(Case) == before + 31


def test_seed_with_cases_leaves_the_planner_what_each_database_plans_with(cli):
    """PostgreSQL: right after a bulk load its planner still believed ``identifiers`` nearly
    empty (autovacuum analyzes only later) and scanned it whole for every case page; the seed
    now runs VACUUM (ANALYZE) (on a connection of its own: here it sees only what was
    committed before the test, but it runs). SQLite: its planner uses no statistics until
    ANALYZE has run once, and the queue's indexes and plans were measured without them; the
    seed leaves it so."""
    postgresql = db.engine.dialect.name == "postgresql"

    def analyzed() -> int:
        if not postgresql:  # statistics exist only once ANALYZE has made sqlite_stat1
            return db.session.scalar(text(
                "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"))
        db.session.execute(text("SELECT pg_stat_clear_snapshot()"))
        return db.session.scalar(text(
            "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'identifiers'"))

    before = analyzed()
    result = cli.invoke(args=["demo", "seed", "--cases", "40", "--audit-events", "400"])
    assert result.exit_code == 0, result.output
    assert analyzed() == (before + 1 if postgresql else 0)
