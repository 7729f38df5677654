"""Loading the real .gov registry file, then an updated copy: a domain gone, one renamed."""

from __future__ import annotations

import tracemalloc

import pytest
from sqlalchemy import func, select

from referrals.audit.models import AuditEvent
from referrals.core.errors import InvalidInput, PermissionDenied
from referrals.core.identity import Identity
from referrals.directory.lookup import assess_domain
from referrals.directory.models import DirectoryEntry, DirectoryNameChange, LookalikeKey
from referrals.directory.registry import import_registry
from referrals.directory.services import entry_history
from referrals.extensions import db
from tests.directory.conftest import OPERATOR, as_csv


def _count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_the_real_file_loads_every_row_in_bounded_memory(app, registry_text, registry_rows):
    tracemalloc.start()
    report = import_registry(OPERATOR, registry_text)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.rows == len(registry_rows) - 1 == 16539
    assert len(report.added) == _count(DirectoryEntry) == 16539
    assert report.skipped == []
    # A few times the file's own size (2 MB), not the table's.
    assert peak < 80 * 1024 * 1024
    palms = db.session.scalar(select(DirectoryEntry).where(DirectoryEntry.domain == "29palms.gov"))
    assert (palms.organization, palms.domain_type, palms.city, palms.state) == (
        "City of Twentynine Palms", "City", "Twentynine Palms", "CA")
    assert _count(LookalikeKey) > 16539
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "directory.imported"))
    assert '"added":16539' in event.after and report.sha256 in event.after


def test_loading_the_same_file_again_changes_nothing(loaded_registry, registry_text):
    keys = _count(LookalikeKey)
    again = import_registry(OPERATOR, registry_text)
    assert (again.added, again.updated, again.removed, again.renamed) == ([], [], [], [])
    assert _count(DirectoryEntry) == 16539 and _count(LookalikeKey) == keys


def test_an_updated_file_marks_a_gone_domain_and_renames_one(loaded_registry, registry_rows):
    header, *rows = registry_rows
    gone = next(row for row in rows if row[0].lower() == "29palms.gov")
    renamed = next(row for row in rows if row[0].lower() == "59dcmi.gov")
    updated = [list(row) for row in rows if row is not gone]
    for row in updated:
        if row[0] == renamed[0]:
            row[2] = "59th District Court of Michigan"
    report = import_registry(OPERATOR, as_csv([header] + updated))
    assert report.removed == ["29palms.gov"]
    assert report.renamed == ["59dcmi.gov"] and report.added == []

    palms = db.session.scalar(select(DirectoryEntry).where(DirectoryEntry.domain == "29palms.gov"))
    assert palms is not None and palms.removed_at is not None  # marked, not deleted
    assessment = assess_domain("police.29palms.gov")
    assert not assessment.listed
    assert any("left the .gov registry" in flag for flag in assessment.flags)
    # Gone from the look-alike index: nothing is "like" a domain no longer listed.
    assert _count(LookalikeKey, LookalikeKey.domain == "29palms.gov") == 0

    court = db.session.scalar(select(DirectoryEntry).where(DirectoryEntry.domain == "59dcmi.gov"))
    assert court.organization == "59th District Court of Michigan"
    (change,) = entry_history(court)
    assert (change.old_organization, change.new_organization) == (
        "59th District Court", "59th District Court of Michigan")
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"directory.entry_removed", "directory.entry_renamed"} <= actions

    # The domain comes back in a later file: present again, and in the index again.
    back = import_registry(OPERATOR, as_csv(registry_rows))
    assert back.returned == ["29palms.gov"]
    db.session.refresh(palms)
    assert palms.removed_at is None and assess_domain("29palms.gov").listed
    assert _count(DirectoryNameChange) == 2  # renamed back: the history has both


def test_a_cut_off_file_is_refused_before_it_marks_thousands_gone(loaded_registry, registry_rows):
    with pytest.raises(InvalidInput, match="is it complete"):
        import_registry(OPERATOR, as_csv(registry_rows[:1000]))
    assert _count(DirectoryEntry, DirectoryEntry.removed_at.is_not(None)) == 0
    report = import_registry(OPERATOR, as_csv(registry_rows[:1000]), allow_mass_removal=True)
    assert len(report.removed) == 16539 - 999


@pytest.mark.parametrize("text, message", [
    ("", "not the .gov registry file"),
    ("domain,type\nexample.gov,City\n", "not the .gov registry file"),
    ("Domain name,Domain type,Organization name,Suborganization name,City,State\n",
     "lists no .gov domain"),
])
def test_a_file_that_is_not_the_registry_is_refused_plainly(app, text, message):
    with pytest.raises(InvalidInput, match=message):
        import_registry(OPERATOR, text)


def test_a_row_that_is_not_a_gov_domain_is_skipped_and_counted(app):
    report = import_registry(OPERATOR, "Domain name,Domain type,Organization name,"
                             "Suborganization name,City,State\nexample.com,City,X,,Y,CA\n"
                             "madeup-example.gov,City,Made-up City,,Y,CA\n")
    assert report.skipped == ["example.com"] and report.added == ["madeup-example.gov"]


def test_only_an_operator_or_administrator_loads_the_registry(app, registry_text):
    agent = Identity(kind="staff", user_id=1, label="agent", roles=frozenset({"agent"}))
    with pytest.raises(PermissionDenied):
        import_registry(agent, registry_text)
