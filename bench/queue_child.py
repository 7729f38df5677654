"""One queue benchmark in its own process: migrate, seed, sign in, time the pages.

``python -m bench.queue_child --cases N --repeat R`` with REFERRALS_INSTANCE_PATH and
DATABASE_URL naming an empty database. Prints one JSON line (see ``measure_pages``).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from html import unescape

from flask import Flask
from flask.testing import FlaskClient
from passlib.totp import TOTP
from sqlalchemy import event, func, select, text

from bench.children import emit
from bench.report import percentile, progress

SUPERVISOR = "supervisor@referrals.example"
SEARCHED_CASE = 12345  # the example: user12345@mail.example
WARM_UP = 3
AUDIT_EVENTS_PER_CASE = 10  # 1,000,000 at 100,000 cases, as in the issue
ROW = re.compile(r'href="/cases/CASE-\d{4}-\d{6}"')
NEXT = re.compile(r'href="([^"]+)" id="next-page"')


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.queue_child")
    parser.add_argument("--cases", type=int, required=True)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--analyze", action="store_true",
                        help="refresh the planner's statistics after seeding")
    options = parser.parse_args()

    from referrals import create_app

    app = create_app()
    app.config["PREFERRED_URL_SCHEME"] = "https"  # the test client speaks https, like production
    with app.app_context():
        migrate()
        seed_seconds, seeded_by = seed(options.cases)
        if options.analyze:
            analyze()
        sizes = data_sizes()
    client = signed_in_client(app)
    pages = measure_pages(app, client, options.cases, options.repeat)
    emit({"seed_seconds": seed_seconds, "seeded_by": seeded_by, **sizes, "pages": pages})


def migrate() -> None:
    from flask_migrate import upgrade

    started = time.perf_counter()
    upgrade()
    progress(f"migrated in {time.perf_counter() - started:.1f} s")


def seed(cases: int) -> tuple[float, str]:
    """``flask demo seed --cases N`` in a process of its own; in-process if it lacks the option."""
    from referrals.accounts.services import find_user_by_email
    from referrals.demo.cli import demo_seed
    from referrals.core.transaction import unit_of_work
    from referrals.demo.seed import seed_demo
    from referrals.demo.bench import seed_bulk_cases

    started = time.perf_counter()
    with heartbeat("seeding", started):
        if any(param.name == "cases" for param in demo_seed.params):
            seeded_by = f"flask --app referrals demo seed --cases {cases}"
            progress(f"seeding: {seeded_by}")
            # The CLI's output goes to stderr: our stdout carries only the result line.
            subprocess.run([sys.executable, "-m", "flask", "--app", "referrals", "demo", "seed",
                            "--cases", str(cases)], stdout=sys.stderr, check=True)
        else:
            events = min(AUDIT_EVENTS_PER_CASE * cases, 1_000_000)
            seeded_by = (f"seed_demo() + seed_bulk_cases({cases}, audit_events_total={events}) "
                         "in-process (the CLI has no --cases)")
            progress(f"seeding: {seeded_by}")
            with unit_of_work():
                seed_demo()
            with unit_of_work():
                seed_bulk_cases(cases, audit_events_total=events)
        if find_user_by_email(SUPERVISOR) is None:  # a --cases seed without the demo accounts
            with unit_of_work():
                seed_demo()
    seconds = time.perf_counter() - started
    progress(f"seeded {cases:,} cases in {seconds:.1f} s")
    return seconds, seeded_by


@contextmanager
def heartbeat(doing: str, started: float, every: float = 30):
    """A progress line every ``every`` seconds while the block runs."""
    done = threading.Event()

    def beat():
        while not done.wait(every):
            progress(f"still {doing} … {time.perf_counter() - started:.0f} s")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def analyze() -> None:
    from referrals.extensions import db

    db.session.execute(text("ANALYZE"))
    db.session.commit()
    progress("ANALYZE done")


def data_sizes() -> dict[str, int]:
    from referrals.audit.models import AuditEvent
    from referrals.cases.models import Case, Identifier
    from referrals.extensions import db

    def count(*where, model=Case) -> int:
        return db.session.scalar(select(func.count()).select_from(model).where(*where))

    return {"cases": count(), "open_cases": count(Case.is_open.is_(True)),
            "identifiers": count(model=Identifier), "audit_events": count(model=AuditEvent)}


def signed_in_client(app: Flask) -> FlaskClient:
    """The demo supervisor, signed in through the real pages: password, notice, TOTP."""
    client = app.test_client()
    # Browsers send a same-origin Referer on form posts; Flask-WTF requires it on HTTPS.
    client.environ_base["HTTP_REFERER"] = "https://localhost/"
    sign_in_as(SUPERVISOR, lambda path: client.get(path).text,
               lambda path, data: client.post(path, data=data).status_code)
    return client


def sign_in_as(email: str, get, post) -> None:
    """A demo account through the sign-in pages' steps with any client: ``get(path)`` gives
    the page's text, ``post(path, data)`` the answer's status."""
    from referrals.demo.seed import demo_password, demo_totp_key

    status = post("/login", {
        "email": email, "password": demo_password(email), "acknowledge_notice": "y",
        "csrf_token": _csrf(get("/login"))})
    if status != 302:
        raise SystemExit(f"sign-in (password) answered {status}")
    page = get("/tf-validate")
    code = TOTP(key=demo_totp_key(email), format="base32").generate().token
    status = post("/tf-validate", {"code": code, "csrf_token": _csrf(page)})
    if status != 302:
        raise SystemExit(f"sign-in (TOTP) answered {status}")


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    if not match:
        raise SystemExit("no CSRF token on the sign-in page")
    return match.group(1)


def measure_pages(app: Flask, client: FlaskClient, cases: int, repeat: int) -> list[dict]:
    """Each page: status, rows shown, SQL statements per request (the most seen), and
    the server time (median, p95) over ``repeat`` requests after a warm-up."""
    first = client.get("/cases/?view=open")
    found = NEXT.search(first.text)
    searched = SEARCHED_CASE if cases > SEARCHED_CASE else cases // 2
    pages = [
        ("first page", "/cases/?view=open"),
        ("last page", "/cases/?view=open&last=1"),
        ("next page", unescape(found.group(1)) if found else None),
        (f"search user{searched}@…", f"/cases/?view=open&q=user{searched}@mail.example"),
    ]
    results = []
    with app.app_context():
        from referrals.extensions import db

        engine = db.engine
    for name, url in pages:
        if url is None:
            raise SystemExit("the first page has no next-page link")
        for _ in range(WARM_UP):
            client.get(url)
        timings, statements = [], []
        for _ in range(repeat):
            with counting(engine) as counted:
                started = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
            statements.append(counted[0])
        results.append({
            "page": name, "url": url, "status": response.status_code,
            "rows": len(ROW.findall(response.text)), "queries": max(statements),
            "median_ms": percentile(timings, 0.5), "p95_ms": percentile(timings, 0.95),
        })
        progress(f"{name}: {results[-1]['median_ms']:.1f} ms median, "
                 f"{results[-1]['queries']} queries")
    return results


@contextmanager
def counting(engine):
    """Counts every statement sent to the database (BEGIN and SAVEPOINT included)."""
    counted = [0]

    def count(*_args):
        counted[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", count)


if __name__ == "__main__":
    main()
