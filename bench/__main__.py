"""``python -m bench``: run the benchmarks, print the tables and the goals, exit 1 on a miss."""

from __future__ import annotations

import argparse
import os
import sys
import time

from bench.audit_export import audit_export_checks, run_audit_export
from bench.audit_verify import audit_verify_checks, run_audit_verify
from bench.children import BenchError
from bench.concurrency import concurrency_checks, run_concurrency
from bench.directory import directory_checks, run_directory
from bench.ingest import ingest_checks, run_ingest
from bench.mixed import mixed_checks, run_mixed
from bench.objectstore import objectstore_checks, run_objectstore
from bench.packages import package_checks, run_packages
from bench.queue import DEFAULT_POSTGRES_URL, queue_checks, run_queue, summary_table
from bench.referral_report import referral_report_checks, run_referral_report
from bench.report import Check, heading, print_checks
from bench.transparency import run_transparency, transparency_checks
from bench.uploads import run_uploads, upload_checks


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000,
                        help="cases for the full-size queue run (default 100,000)")
    parser.add_argument("--small-cases", type=int, default=1_000,
                        help="cases for the small run that shows the query count does not "
                             "grow (default 1,000; 0 skips it)")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"),
                        help="default: sqlite, and postgresql too when DATABASE_URL names "
                             "PostgreSQL or --postgres-url is given")
    parser.add_argument("--postgres-url",
                        help="a PostgreSQL server to create (and drop) referrals_bench on; "
                             f"default DATABASE_URL, else {DEFAULT_POSTGRES_URL}")
    parser.add_argument("--repeat", type=int, default=30, help="requests timed per page")
    parser.add_argument("--analyze", action="store_true",
                        help="run ANALYZE after seeding (planner statistics)")
    parser.add_argument("--skip-queue", action="store_true", help="skip part A (the queue)")
    parser.add_argument("--skip-ingest", action="store_true", help="skip part B (evidence ingest)")
    parser.add_argument("--ingest-mib", type=int, default=1024,
                        help="size of the ingested file in MiB (default 1024: 1 GiB)")
    parser.add_argument("--ingest-rounds", type=int, default=2,
                        help="the two-thread pipeline and add_evidence take turns this many "
                             "times; the best wall time of each counts (default 2)")
    parser.add_argument("--skip-package", action="store_true",
                        help="skip part C (building an evidence package)")
    parser.add_argument("--package-mib", type=int, default=1024,
                        help="size of the packaged file in MiB (default 1024: 1 GiB)")
    parser.add_argument("--package-rounds", type=int, default=3,
                        help="age -r and the build take turns this many times; the best "
                             "wall time of each counts (default 3: the first round runs "
                             "while the 1 GiB source file is still being written back)")
    parser.add_argument("--skip-uploads", action="store_true",
                        help="skip part D (two concurrent uploads)")
    parser.add_argument("--upload-mib", type=int, default=300,
                        help="size of each concurrently uploaded file in MiB (default 300)")
    parser.add_argument("--upload-rate", type=float, default=25,
                        help="MiB/s at which each upload's body arrives (default 25, about "
                             "200 Mbit/s; 0: as fast as the disk gives it)")
    parser.add_argument("--skip-referral-report", action="store_true",
                        help="skip part E (the referral report PDF, 10 subjects, 200 items)")
    parser.add_argument("--skip-transparency", action="store_true",
                        help="skip part F (the transparency report of 100,000 requests)")
    parser.add_argument("--transparency-requests", type=int, default=100_000,
                        help="requests in the half-year of part F (default 100,000)")
    parser.add_argument("--skip-concurrency", action="store_true",
                        help="skip part G (the queue and a case page under concurrent "
                             "connections through gunicorn)")
    parser.add_argument("--concurrency-cases", type=int, default=None,
                        help="cases seeded for part G (default: --cases)")
    parser.add_argument("--connections", type=int, default=8,
                        help="concurrent connections in parts G and K (default 8)")
    parser.add_argument("--concurrency-requests", type=int, default=400,
                        help="requests per page at full concurrency in part G (default 400)")
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers in parts G and K (default: what "
                             "deploy/gunicorn.conf.py chooses, as production runs it)")
    parser.add_argument("--skip-mixed", action="store_true",
                        help="skip part K (mixed traffic through gunicorn: the queue, a case "
                             "page, a portal request page, API escalations)")
    parser.add_argument("--mixed-cases", type=int, default=20_000,
                        help="cases seeded for part K (default 20,000: the pages cost the "
                             "same at 100,000, part A shows it; the seed takes a fifth)")
    parser.add_argument("--mixed-requests", type=int, default=200,
                        help="requests of each kind in part K's mix (default 200)")
    parser.add_argument("--skip-audit-verify", action="store_true",
                        help="skip part H (audit verify on a long chain)")
    parser.add_argument("--audit-events", type=int, default=1_000_000,
                        help="events in the chain of part H (default 1,000,000)")
    parser.add_argument("--skip-audit-export", action="store_true",
                        help="skip part I (exporting the audit log as CSV, its filtered "
                             "pages; as many events as --audit-events)")
    parser.add_argument("--skip-objectstore", action="store_true",
                        help="skip part L (1 GiB ingest into the local directory and into S3, "
                             "moto's server)")
    parser.add_argument("--objectstore-mib", type=int, default=1024,
                        help="size of the blob of part L in MiB (default 1024: 1 GiB)")
    parser.add_argument("--skip-directory", action="store_true",
                        help="skip part J (loading the .gov registry file, domain look-ups)")
    return parser.parse_args(argv)


def choose_databases(options: argparse.Namespace) -> tuple[list[str], str]:
    environment_url = os.environ.get("DATABASE_URL", "")
    postgres_url = options.postgres_url or (
        environment_url if environment_url.startswith("postgresql") else DEFAULT_POSTGRES_URL)
    if options.database == "both":
        return ["sqlite", "postgresql"], postgres_url
    if options.database:
        return [options.database], postgres_url
    wanted_postgres = bool(options.postgres_url) or environment_url.startswith("postgresql")
    return (["sqlite", "postgresql"] if wanted_postgres else ["sqlite"]), postgres_url


def machine_load() -> str:
    """Timings are only as quiet as the machine: say how busy it was."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.1f} (1 min), {five:.1f} (5 min)"


def main(argv: list[str] | None = None) -> int:
    options = parse_arguments(argv)
    started = time.perf_counter()
    print(f"Referrals benchmarks: Python {sys.version.split()[0]}, {machine_load()}", flush=True)
    checks, queue_runs = [], []
    if not options.skip_queue:  # a run that cannot start is reported as a failed goal
        databases, postgres_url = choose_databases(options)
        sizes = sorted({size for size in (options.small_cases, options.cases) if size > 0})
        queue_runs = run_queue(databases, sizes, postgres_url=postgres_url,
                               repeat=options.repeat, analyze=options.analyze)
        checks += queue_checks(queue_runs, options.cases)
    if not options.skip_ingest:
        try:
            checks += ingest_checks(run_ingest(options.ingest_mib, options.ingest_rounds))
        except BenchError as error:
            checks.append(Check("the ingest benchmark runs", str(error), False))
    if not options.skip_package:
        try:
            checks += package_checks(run_packages(options.package_mib, options.package_rounds))
        except BenchError as error:
            checks.append(Check("the package benchmark runs", str(error), False))
    if not options.skip_uploads:
        try:
            checks += upload_checks(run_uploads(options.upload_mib, options.upload_rate))
        except BenchError as error:
            checks.append(Check("the concurrent upload benchmark runs", str(error), False))
    if not options.skip_referral_report:
        checks += referral_report_checks(run_referral_report())
    if not options.skip_transparency:
        checks += transparency_checks(run_transparency(options.transparency_requests))
    if not options.skip_concurrency:
        databases, postgres_url = choose_databases(options)
        checks += concurrency_checks(run_concurrency(
            databases, cases=options.concurrency_cases or options.cases,
            connections=options.connections, requests=options.concurrency_requests,
            workers=options.workers, postgres_url=postgres_url))
    if not options.skip_mixed:
        databases, postgres_url = choose_databases(options)
        checks += mixed_checks(run_mixed(
            databases, cases=options.mixed_cases,
            connections=options.connections, requests=options.mixed_requests,
            workers=options.workers, postgres_url=postgres_url))
    if not options.skip_audit_verify:
        try:
            databases, postgres_url = choose_databases(options)
            checks += audit_verify_checks(run_audit_verify(options.audit_events, databases,
                                                           postgres_url=postgres_url))
        except BenchError as error:
            checks.append(Check("the audit verify benchmark runs", str(error), False))
    if not options.skip_audit_export:
        try:
            checks += audit_export_checks(run_audit_export(options.audit_events))
        except BenchError as error:
            checks.append(Check("the audit export benchmark runs", str(error), False))
    if not options.skip_directory:
        checks += directory_checks(run_directory())
    if not options.skip_objectstore:
        try:
            checks += objectstore_checks(run_objectstore(options.objectstore_mib))
        except BenchError as error:
            checks.append(Check("the object-storage benchmark runs", str(error), False))
    if any(run.result for run in queue_runs):
        heading("Queue summary (server time through the Flask test client)")
        print(summary_table(queue_runs), flush=True)
    passed = print_checks(checks)
    print(f"Benchmarks took {time.perf_counter() - started:.0f} s; at the end: {machine_load()}.")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
