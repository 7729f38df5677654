"""Loading CISA's .gov registry file: idempotent, in bulk, in bounded time and memory.

The file (``current-full.csv`` of the public ``cisagov/dotgov-data`` repository, refreshed
daily) has one row per .gov domain. A refresh inserts the new domains, updates what changed
(a renamed organisation keeps its old name in ``directory_name_changes``), marks the domains
that left the file (never deletes them) and brings back one that returned. Nothing is
written for a row that did not change, so loading the same file twice writes nothing but
the "seen" time and one audit event.

Memory is bounded by the file's size (one small tuple per domain, about 5 MB for 16,539
rows); time by a handful of bulk statements, whatever the row count.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, insert, select, update

from referrals.audit.services import record_event, record_events_in_bulk
from referrals.core.clock import now
from referrals.core.errors import InvalidInput
from referrals.core.identity import Identity
from referrals.directory.models import DirectoryEntry, DirectoryNameChange, LookalikeKey
from referrals.directory.names import clean_domain, index_keys
from referrals.directory.policies import directory_policy
from referrals.extensions import db

COLUMNS = ("Domain name", "Domain type", "Organization name", "Suborganization name", "City",
           "State")
_FIELDS = ("domain_type", "organization", "suborganization", "city", "state")
_LIMITS = {"domain_type": 64, "organization": 300, "suborganization": 300, "city": 120, "state": 8}
BATCH = 5000
# Core tables, not the ORM's bulk path: a first load inserts some 200,000 index rows, and the
# ORM's per-row bookkeeping would be most of the time.
_ENTRIES = DirectoryEntry.__table__
_KEYS = LookalikeKey.__table__
# An audit event names each removed or renamed domain; a first load lists none of the
# thousands it adds (the file's SHA-256 identifies exactly what was loaded).
NAMED_CHANGES_MAX = 500


@dataclass
class RegistryImport:
    rows: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    sha256: str = ""

    def summary(self) -> dict:
        def named(domains: list[str]) -> list[str] | str:
            return sorted(domains) if len(domains) <= NAMED_CHANGES_MAX else f"{len(domains)} domains"
        return {"rows": self.rows, "sha256": self.sha256, "added": len(self.added),
                "updated": len(self.updated), "renamed": named(self.renamed),
                "removed": named(self.removed), "returned": named(self.returned),
                "skipped": named(self.skipped)}


def _insert_rows(table, rows: list[dict]) -> None:
    """Bulk insert in the transaction of the session. On PostgreSQL through COPY: an
    executemany sends one statement per row there (psycopg's pipeline), and a first load
    inserts some 200,000 index rows, which took 14 s instead of 2. SQLite's executemany is
    already one prepared statement stepped per row."""
    if not rows:
        return
    connection = db.session.connection()
    columns = list(rows[0])
    if connection.dialect.name != "postgresql":
        if all(isinstance(value, str) for value in rows[0].values()):
            # Text only (the index): straight to the driver's executemany, without
            # SQLAlchemy building parameters row by row (half the time of a first load).
            marks = ", ".join("?" for _ in columns)
            connection.exec_driver_sql(
                f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})",
                [tuple(row[column] for column in columns) for row in rows])
        else:
            connection.execute(table.insert(), rows)
        return
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(tuple(row[column] for column in columns))


def _read(text: Iterable[str]) -> Iterator[tuple[str, dict[str, str]]]:
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header[:len(COLUMNS)]) != COLUMNS:
        raise InvalidInput("This is not the .gov registry file: its first line must be "
                           f"“{','.join(COLUMNS)}” (current-full.csv from cisagov/dotgov-data).")
    for row in reader:
        if not row or not any(cell.strip() for cell in row):
            continue
        row = (row + [""] * len(COLUMNS))[:len(COLUMNS)]
        values = {name: row[i + 1].strip()[:_LIMITS[name]] for i, name in enumerate(_FIELDS)}
        yield row[0], values


def read_registry_file(path: str | Path) -> tuple[str, str]:
    """The file's text and SHA-256, or a plain refusal."""
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise InvalidInput(f"Cannot read {path}: {error.strerror or error}.") from error
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"{path} is not UTF-8 text: is it the registry's CSV file?") from error
    return text, hashlib.sha256(raw).hexdigest()


# A refresh that would mark more than this share of the registry as gone is refused unless
# asked for: a cut-off download looks like thousands of domains leaving, and each departure
# suspends the officers on it.
MASS_REMOVAL_SHARE = 0.05
MASS_REMOVAL_MIN = 50


def import_registry(actor: Identity, text: str, *, sha256: str = "",
                    allow_mass_removal: bool = False) -> RegistryImport:
    """Load or refresh the .gov registry from the file's text. Flushes, never commits."""
    directory_policy.require(actor, "import")
    report = RegistryImport(sha256=sha256 or hashlib.sha256(text.encode()).hexdigest())
    wanted: dict[str, dict[str, str]] = {}
    for raw_domain, values in _read(io.StringIO(text)):
        report.rows += 1
        domain = clean_domain(raw_domain)
        if not domain.endswith(".gov") or domain.count(".") != 1 or len(domain) > 253:
            report.skipped.append(raw_domain[:100])
            continue
        wanted[domain] = values
    if not wanted:
        raise InvalidInput("The file lists no .gov domain: nothing was changed (an empty file "
                           "would otherwise mark every domain as gone).")
    moment = now()
    existing = {row.domain: row for row in db.session.execute(select(
        DirectoryEntry.id, DirectoryEntry.domain, DirectoryEntry.removed_at,
        *(getattr(DirectoryEntry, name) for name in _FIELDS)))}

    new_rows, changes, history, indexed = [], [], [], []
    for domain, values in wanted.items():
        old = existing.get(domain)
        if old is None:
            report.added.append(domain)
            new_rows.append({"domain": domain, **values, "first_seen_at": moment,
                             "last_seen_at": moment, "removed_at": None})
            indexed.append(domain)
            continue
        change = {name: values[name] for name in _FIELDS if getattr(old, name) != values[name]}
        if old.removed_at is not None:
            report.returned.append(domain)
            change["removed_at"] = None
            indexed.append(domain)
        if "organization" in change or "suborganization" in change:
            report.renamed.append(domain)
            history.append({"entry_id": old.id, "old_organization": old.organization,
                            "new_organization": values["organization"],
                            "old_suborganization": old.suborganization,
                            "new_suborganization": values["suborganization"],
                            "changed_at": moment})
        if change:
            report.updated.append(domain)
            changes.append({"id": old.id, **change})
    gone = [row for domain, row in existing.items()
            if domain not in wanted and row.removed_at is None]
    report.removed = [row.domain for row in gone]
    present = sum(1 for row in existing.values() if row.removed_at is None)
    if (not allow_mass_removal and len(gone) >= MASS_REMOVAL_MIN
            and len(gone) > MASS_REMOVAL_SHARE * present):
        raise InvalidInput(f"This file would mark {len(gone)} of {present} .gov domains as gone "
                           "from the registry: is it complete? Nothing was changed. If it is "
                           "right, load it again with --allow-mass-removal.")

    _insert_rows(_ENTRIES, new_rows)
    if changes:
        # Grouped by the columns they set: an executemany needs one statement shape.
        by_shape: dict[tuple, list[dict]] = {}
        for change in changes:
            by_shape.setdefault(tuple(sorted(change)), []).append(change)
        for group in by_shape.values():
            db.session.execute(update(DirectoryEntry), group)
    if history:
        db.session.execute(insert(DirectoryNameChange), history)
    for start in range(0, len(gone), BATCH):
        ids = [row.id for row in gone[start:start + BATCH]]
        db.session.execute(update(DirectoryEntry).where(DirectoryEntry.id.in_(ids))
                           .values(removed_at=moment))
    for start in range(0, len(report.removed), BATCH):
        db.session.execute(delete(LookalikeKey).where(
            LookalikeKey.list_kind == "dotgov",
            LookalikeKey.domain.in_(report.removed[start:start + BATCH])))
    # Made and written a batch of domains at a time: the whole index at once (some 200,000
    # dicts) would be most of the import's memory.
    for start in range(0, len(indexed), BATCH):
        _insert_rows(_KEYS, [{"key": key, "domain": domain, "list_kind": "dotgov"}
                             for domain in indexed[start:start + BATCH]
                             # a second-level .gov name: the label is all before ".gov"
                             for key in index_keys(domain, domain[:-4])])
    db.session.execute(update(DirectoryEntry).where(DirectoryEntry.removed_at.is_(None))
                       .values(last_seen_at=moment))
    db.session.flush()
    # One event for the load, and one for each domain that left or was renamed: those are
    # what an officer's or agency's standing changes on. Appended in bulk (same chain and
    # hashes): a mass removal names thousands of domains.
    record_event(actor, "directory.imported", object_type="directory", object_id="dotgov",
                 after=report.summary())
    record_events_in_bulk(actor, [
        {"action": "directory.entry_renamed", "object_type": "directory_entry",
         "object_id": row["entry_id"],
         "before": {"organization": row["old_organization"],
                    "suborganization": row["old_suborganization"]},
         "after": {"organization": row["new_organization"],
                   "suborganization": row["new_suborganization"]}} for row in history
    ] + [
        {"action": "directory.entry_removed", "object_type": "directory_entry",
         "object_id": row.id, "before": {"domain": row.domain, "organization": row.organization}}
        for row in gone
    ])
    return report
