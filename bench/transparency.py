"""Part F: the transparency report of a half-year of 100,000 requests (issue 15's goal: it
builds in under 10 s). A fresh SQLite database is migrated and seeded in bulk (synthetic
agencies in 40 countries, requests of every type across 2026-H2 with their targets,
disclosures, holds, non-disclosure orders and user notices), then the report is built three
times; the goal is checked on the first (cold) build. Writing its CSV files and its PDF is
timed beside it."""

from __future__ import annotations

import os
import random
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import insert

from bench.report import Check, heading, progress, table
from config import load_settings
from referrals.accounts.models import User
from referrals.agencies.models import Agency
from referrals.disclosures.models import Disclosure
from referrals.extensions import db
from referrals.holds.models import PreservationHold
from referrals.requests.models import DisclosureRequest, RequestTarget, UserNoticeTask
from referrals.requests.rules import REQUEST_TYPES
from referrals import create_app
from referrals.compliance.transparency import build_report, parse_period
from referrals.compliance.transparency_export import write_report
from referrals.core.identity import system_identity
from referrals.core.transaction import unit_of_work

SECONDS_LIMIT = 10.0
PERIOD = "2026-H2"
COUNTRIES = ("US GB DE FR IE NL BE ES IT PT PL SE DK FI NO AT CH CZ HU RO GR TR IL IN JP KR "
             "AU NZ CA MX BR AR CL CO PE ZA NG KE PH SG").split()
BATCH = 20_000


def _batched(insert, table_, rows):
    for start in range(0, len(rows), BATCH):
        insert(table_, rows[start:start + BATCH])


def seed(requests: int) -> dict[str, int]:
    """Bulk rows through SQLAlchemy Core (no ORM objects, no audit events: nothing here is
    what the report reads)."""
    def run(model, rows):
        db.session.execute(insert(model), rows)

    rng = random.Random(15)
    start = datetime(2026, 7, 1, tzinfo=UTC)
    seconds = int((datetime(2027, 1, 1, tzinfo=UTC) - start).total_seconds())
    made = datetime(2026, 1, 1, tzinfo=UTC)
    run(Agency, [{"id": n + 1, "name": f"Synthetic bench agency {n + 1}", "kind": "law_enforcement",
                  "country": COUNTRIES[n % len(COUNTRIES)], "status": "verified",
                  "created_at": made} for n in range(2 * len(COUNTRIES))])
    run(User, [{"id": 1, "email": "bench.officer@agency.example", "full_name": "Bench Officer",
                "kind": "agency", "agency_id": 1, "fs_uniquifier": uuid.uuid4().hex,
                "password": "unusable", "created_at": made},
               {"id": 2, "email": "bench.supervisor@referrals.example", "kind": "staff",
                "fs_uniquifier": uuid.uuid4().hex, "password": "unusable", "created_at": made}])
    kinds = list(REQUEST_TYPES)
    weights = [REQUEST_TYPES[k].emergency and 12 or REQUEST_TYPES[k].preservation and 6 or 8
               for k in kinds]
    rows, targets, disclosures, holds, notices = [], [], [], [], []
    for n in range(1, requests + 1):
        kind = rng.choices(kinds, weights)[0]
        received = start + timedelta(seconds=rng.randrange(seconds))
        agency = rng.randrange(1, 2 * len(COUNTRIES) + 1)
        ndo = rng.random() < 0.3
        rows.append({
            "id": n, "reference": f"REQ-2026-{n:06d}", "agency_id": agency, "submitted_by_id": 1,
            "request_type": kind, "emergency": REQUEST_TYPES[kind].emergency, "status": "closed",
            "is_open": False, "addressed_to": "us", "officer_name": "Bench Officer",
            "official_email": "bench.officer@agency.example", "phone": "+12025550100",
            "data_categories": ["subscriber"], "warnings": [], "received_at": received,
            "updated_at": received, "nondisclosure_order": ndo,
            "nondisclosure_until": date(2027, 6, 30) if ndo and rng.random() < 0.7 else None})
        for t in range(rng.choice((1, 1, 1, 2, 2, 3))):
            targets.append({"request_id": n, "kind": "username", "value": f"bench{n}x{t}",
                            "normalized": f"bench{n}x{t}"})
        if REQUEST_TYPES[kind].preservation:
            if rng.random() < 0.9:
                holds.append({"reference": f"HOLD-2026-{n:06d}", "kind": "us_2703f",
                              "status": "active", "request_id": n, "agency_id": agency,
                              "data_categories": ["subscriber"], "starts_at": received,
                              "expires_at": received + timedelta(days=90),
                              "placed_by_label": "bench", "placed_at": received,
                              "updated_at": received})
        elif rng.random() < 0.65:
            disclosures.append({"kind": "emergency_disclosure" if REQUEST_TYPES[kind].emergency
                                else "production", "request_id": n, "agency_id": agency,
                                "recipient_name": f"Synthetic bench agency {agency}",
                                "recipient_country": COUNTRIES[(agency - 1) % len(COUNTRIES)],
                                "legal_basis": "Synthetic", "approved_by_id": 2,
                                "disclosed_by_id": 2,
                                "disclosed_at": received + timedelta(days=3)})
            if not ndo and rng.random() < 0.5:
                notices.append({"request_id": n, "due_at": received, "reason": "bench",
                                "done_at": received + timedelta(days=4)})
    _batched(run, DisclosureRequest, rows)
    _batched(run, RequestTarget, targets)
    _batched(run, Disclosure, disclosures)
    _batched(run, PreservationHold, holds)
    _batched(run, UserNoticeTask, notices)
    db.session.commit()
    return {"requests": len(rows), "targets": len(targets), "disclosures": len(disclosures),
            "holds": len(holds), "notices": len(notices)}


def run_transparency(requests: int = 100_000) -> dict:
    heading(f"Transparency report: a half-year of {requests:,} requests (SQLite)")
    directory = Path(tempfile.mkdtemp(prefix="referrals-bench-transparency-"))
    settings = load_settings({**os.environ, "REFERRALS_ENV": "development",
                              "REFERRALS_INSTANCE_PATH": str(directory),
                              "DATABASE_URL": f"sqlite:///{directory / 'bench.db'}"})
    app = create_app(settings)
    actor = system_identity("bench: transparency")
    with app.app_context(), app.test_request_context():
        upgrade()
        started = time.perf_counter()
        sizes = seed(requests)
        progress(f"seeded {sizes} in {time.perf_counter() - started:.1f} s")
        period = parse_period(PERIOD)
        builds = []
        for _ in range(3):
            started = time.perf_counter()
            with unit_of_work():
                report = build_report(period)
            builds.append(time.perf_counter() - started)
        with unit_of_work():
            started = time.perf_counter()
            write_report(actor, build_report(period), "csv", directory / "csv")
            csv_seconds = time.perf_counter() - started
        with unit_of_work():
            started = time.perf_counter()
            write_report(actor, build_report(period), "pdf", directory / "pdf")
            pdf_seconds = time.perf_counter() - started
    summary = report.summary
    print(table(["step", "seconds"], [
        ["build (first, cold)", f"{builds[0]:.2f}"],
        ["build (median of 3)", f"{sorted(builds)[1]:.2f}"],
        ["build + 5 CSV files", f"{csv_seconds:.2f}"],
        ["build + PDF (charts)", f"{pdf_seconds:.2f}"]]), flush=True)
    print(f"counted {summary['total_requests']:,} requests (legal and emergency) from "
          f"{summary['countries']} countries and {summary['preservation_requests']:,} "
          f"preservation requests", flush=True)
    return {"first": builds[0], "requests": requests,
            "counted": summary["total_requests"] + summary["preservation_requests"]}


def transparency_checks(result: dict) -> list[Check]:
    return [
        Check(f"transparency report of {result['requests']:,} requests under "
              f"{SECONDS_LIMIT:.0f} s", f"{result['first']:.2f} s",
              result["first"] < SECONDS_LIMIT and result["counted"] == result["requests"]),
    ]
