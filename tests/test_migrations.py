"""Migrations: every revision goes up, down and up again on an empty database, and the
schema they build is exactly the one the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, inspect, select

from referrals.accounts.models import Role
from referrals.audit.models import AuditChainHead
from referrals.core.identity import STAFF_ROLES
from referrals.extensions import db
from tests.separate_databases import app_for, separate_database


@pytest.fixture
def empty_app(app, settings, tmp_path):
    """An application whose database is empty: nothing created, not even alembic_version."""
    with separate_database(settings, tmp_path, "migrations") as url:
        other = app_for(settings, url)
        with other.app_context():
            assert inspect(db.engine).get_table_names() == []
            try:
                yield other
            finally:
                db.session.remove()
                db.engine.dispose()


def _script() -> ScriptDirectory:
    config = current_app.extensions["migrate"]
    return ScriptDirectory.from_config(config.migrate.get_config(config.directory))


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def _current_revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_every_revision_upgrades_downgrades_and_upgrades_again(empty_app):
    script = _script()
    revisions = list(reversed(list(script.walk_revisions("base", "heads"))))
    assert revisions, "no migrations found"
    for revision in revisions:
        upgrade(revision=revision.revision)
        after_up = _tables()
        assert _current_revision() == revision.revision
        downgrade(revision=revision.down_revision or "base")
        assert _current_revision() == revision.down_revision
        upgrade(revision=revision.revision)
        assert _tables() == after_up, f"{revision.revision}: a second upgrade built something else"

    downgrade(revision="base")
    assert _tables() == set(), "downgrade to base left tables behind"
    assert _current_revision() is None


def test_head_schema_matches_the_models(empty_app):
    upgrade()
    downgrade(revision="base")
    upgrade()
    assert _current_revision() == _script().get_current_head()

    migrate = current_app.extensions["migrate"]
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": migrate.configure_args.get("compare_type", True),
                  "compare_server_default": False},
        )
        differences = compare_metadata(context, db.metadata)
    assert differences == [], "models and migrations disagree; run `flask db migrate`"


def test_upgrade_seeds_the_roles_and_the_chain_head(empty_app):
    upgrade()
    assert sorted(db.session.scalars(select(Role.name))) == sorted(STAFF_ROLES)
    head = db.session.get(AuditChainHead, 1)
    assert (head.seq, head.last_hash) == (0, "0" * 64)
    assert db.session.scalar(select(func.count()).select_from(AuditChainHead)) == 1
    # The migrated database takes an audit event: the head row is where writers queue.
    from referrals.audit.services import record_event, verify_chain
    from referrals.core.identity import system_identity

    record_event(system_identity("test:migrations"), "test.after_upgrade")
    db.session.commit()
    report = verify_chain()
    assert report.ok and report.checked == 1


def test_upgrades_keep_evidence_and_its_custody_chain(empty_app):
    """A database in use carries evidence that custody events point at. Revision 0004
    rebuilds the evidence table (on SQLite by copying it): nothing may be lost or break."""
    from sqlalchemy import text

    upgrade(revision="0003_agencies_requests")
    now = "2026-11-01 10:00:00.000000"
    with db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO cases (id, reference, title, summary, category, priority, priority_rank,"
            " status, is_open, source, created_at, updated_at, response_due_at)"
            " VALUES (7, 'CASE-2026-000007', 'Synthetic', '', 'threat_to_life', 'P1', 1,"
            " 'new', :yes, 'manual', :now, :now, :now)"), {"now": now, "yes": True})
        connection.execute(text(
            "INSERT INTO evidence_items (id, case_id, original_name, mime_type, size, md5, sha1,"
            " sha256, captured_at, captured_by_label, source_system, description, may_be_csam)"
            " VALUES (11, 7, 'note.txt', 'text/plain', 3, :md5, :sha1, :sha256, :now,"
            " 'agent@example.test', 'manual', '', :no)"),
            {"md5": "a" * 32, "sha1": "b" * 40, "sha256": "c" * 64, "now": now, "no": False})
        connection.execute(text(
            "INSERT INTO custody_events (evidence_id, action, actor_label, occurred_at, purpose,"
            " sha256) VALUES (11, 'captured', 'agent@example.test', :now, 'intake', :sha256)"),
            {"now": now, "sha256": "c" * 64})

    upgrade()
    downgrade(revision="0003_agencies_requests")
    upgrade()

    with db.engine.connect() as connection:
        item = connection.execute(text(
            "SELECT case_id, request_id, hold_id, sha256 FROM evidence_items WHERE id = 11")).one()
        custody = connection.execute(text(
            "SELECT count(*) FROM custody_events WHERE evidence_id = 11")).scalar()
    assert tuple(item) == (7, None, None, "c" * 64)
    assert custody == 1


def _insert(connection, table: str, **values) -> None:
    """Insert through the reflected table, so JSON and booleans bind right on both databases."""
    from sqlalchemy import MetaData, Table

    connection.execute(Table(table, MetaData(), autoload_with=connection).insert().values(**values))


def test_disclosures_and_evidence_categories_are_carried_across(empty_app):
    """A database in use at the previous head holds a disclosed request (its disclosure with JSON lists of
    categories and targets) and what was collected for it. 0008 turns the lists into rows,
    names every collected item as disclosed with its hash, gives collected evidence its data
    category by the old file-name rule, and copies the recipient as it was; down and up again
    keeps it."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    previous = _script().get_revision("0008_disclosures").down_revision  # the head before it
    upgrade(revision=previous)
    at = datetime(2026, 11, 1, 10, tzinfo=UTC)
    with db.engine.begin() as connection:
        _insert(connection, "agencies", id=5, name="Synthetic Police Department", kind="law_enforcement",
                country="GB", status="verified", legal_entity="us", notes="", created_at=at)
        for user_id, email, agency_id in ((1, "officer@pd.example.test", 5),
                                          (2, "preparer@example.test", None),
                                          (3, "approver@example.test", None),
                                          (4, "releaser@example.test", None)):
            _insert(connection, "users", id=user_id, email=email, full_name=email, active=True,
                    fs_uniquifier=f"u{user_id}", kind="agency" if agency_id else "staff",
                    agency_id=agency_id, cleared_for_csam=False,
                    password_change_required=False, time_zone="UTC", created_at=at,
                    failed_sign_in_count=0)
        _insert(connection, "disclosure_requests", id=6, reference="REQ-2026-000006", agency_id=5,
                submitted_by_id=1, request_type="search_warrant", emergency=False,
                status="disclosed", is_open=True, addressed_to="us", issuing_authority="",
                officer_name="Synthetic Officer", badge_number="", official_email="officer@pd.example.test",
                phone="+441234", data_categories=["content", "subscriber"], legal_basis="Warrant 1",
                offences="", user_notice_allowed=False, nondisclosure_order=False,
                emergency_description="", person_at_risk="", why_data_helps="", warnings=[],
                received_at=at, decision_reason="", callback_outcome="", updated_at=at,
                prepared_by_id=2, approved_by_id=3, disclosed_by_id=4, disclosed_at=at)
        _insert(connection, "request_targets", id=8, request_id=6, kind="username",
                value="@Someone", normalized="someone", decision="produce", decision_reason="")
        common = dict(request_id=6, size=3, md5="a" * 32, sha1="b" * 40, captured_at=at,
                      captured_by_label="preparer@example.test", source_system="demo",
                      may_be_csam=False)
        _insert(connection, "evidence_items", id=11, original_name="subscriber-username-someone.json",
                mime_type="application/json", sha256="1" * 64, description="1 record(s)", **common)
        _insert(connection, "evidence_items", id=12, original_name="photo.jpg",
                mime_type="image/jpeg", sha256="2" * 64, platform_content_id="p-1",
                description="File from content data of username someone", **common)
        _insert(connection, "evidence_items", id=13, original_name="notes.json",
                mime_type="application/json", sha256="3" * 64, description="", **common)
        _insert(connection, "disclosures", id=20, request_id=6, agency_id=5,
                data_categories=["subscriber", "content"], targets=["someone"],
                legal_basis="Warrant 1", approved_by_id=3, disclosed_by_id=4, disclosed_at=at,
                package_sha256="f" * 64)

    def check():
        with db.engine.connect() as connection:
            categories = dict(connection.execute(text(
                "SELECT id, data_category FROM evidence_items ORDER BY id")).all())
            disclosure = connection.execute(text(
                "SELECT kind, request_id, agency_id, recipient_name, recipient_country,"
                " legal_basis, prepared_by_id, approved_by_id, disclosed_by_id, package_sha256"
                " FROM disclosures WHERE id = 20")).one()
            rows = {
                "categories": connection.execute(text(
                    "SELECT category FROM disclosure_categories WHERE disclosure_id = 20"
                    " ORDER BY category")).scalars().all(),
                "subjects": connection.execute(text(
                    "SELECT kind, identifier FROM disclosure_subjects WHERE disclosure_id = 20"
                )).all(),
                "items": connection.execute(text(
                    "SELECT evidence_id, sha256, data_category FROM disclosed_items"
                    " WHERE disclosure_id = 20 ORDER BY evidence_id")).all(),
            }
        assert categories == {11: "subscriber", 12: "content", 13: None}
        assert tuple(disclosure) == ("production", 6, 5, "Synthetic Police Department", "GB",
                                     "Warrant 1", 2, 3, 4, "f" * 64)
        assert rows["categories"] == ["content", "subscriber"]
        assert [tuple(r) for r in rows["subjects"]] == [("username", "someone")]
        assert [tuple(r) for r in rows["items"]] == [
            (11, "1" * 64, "subscriber"), (12, "2" * 64, "content"), (13, "3" * 64, None)]

    upgrade()
    check()

    # Down again: the record is back in its old shape, lists and all.
    downgrade(revision=previous)
    with db.engine.connect() as connection:
        from sqlalchemy import MetaData, Table

        old = Table("disclosures", MetaData(), autoload_with=connection)
        row = connection.execute(old.select().where(old.c.id == 20)).one()
        columns = {column["name"] for column in inspect(connection).get_columns("evidence_items")}
    assert (row.data_categories, row.targets, row.approved_by_id) == (
        ["subscriber", "content"], ["someone"], 3)
    assert "data_category" not in columns
    assert not {"disclosed_items", "disclosure_subjects", "disclosure_categories"} & _tables()

    upgrade()
    check()


def test_media_flags_move_from_items_to_their_bytes_and_back(empty_app):
    """0018: a hash flagged on any item is flagged for all its items (the safe reading of two
    items that disagreed); down again, every item with a flagged hash carries the flag."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    previous = _script().get_revision("0018_staff_work").down_revision
    upgrade(revision=previous)
    at = datetime(2026, 11, 1, 10, tzinfo=UTC)
    with db.engine.begin() as connection:
        _insert(connection, "cases", id=7, reference="CASE-2026-000007", title="Synthetic",
                summary="", category="other", priority="P2", priority_rank=2, status="new",
                is_open=True, source="manual", created_at=at, updated_at=at, response_due_at=at)
        common = dict(case_id=7, mime_type="image/png", size=3, md5="a" * 32, sha1="b" * 40,
                      captured_at=at, captured_by_label="agent@example.test",
                      source_system="upload", description="")
        _insert(connection, "evidence_items", id=1, original_name="a.png", sha256="1" * 64,
                may_be_csam=True, **common)
        _insert(connection, "evidence_items", id=2, original_name="b.png", sha256="1" * 64,
                may_be_csam=False, **common)
        _insert(connection, "evidence_items", id=3, original_name="c.png", sha256="2" * 64,
                may_be_csam=False, **common)

    upgrade()
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT sha256 FROM sensitive_media")).scalars().all() \
            == ["1" * 64]
        assert "may_be_csam" not in {c["name"] for c in inspect(connection).get_columns(
            "evidence_items")}
        assert connection.execute(text(
            "SELECT count(*) FROM canned_texts")).scalar() == 3
    downgrade(revision=previous)
    with db.engine.connect() as connection:
        flags = dict(connection.execute(text(
            "SELECT id, may_be_csam FROM evidence_items ORDER BY id")).all())
    assert {k: bool(v) for k, v in flags.items()} == {1: True, 2: True, 3: False}
