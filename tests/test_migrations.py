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
